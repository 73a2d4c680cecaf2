// Build-tool plugin: turns Docs/openapi.yaml into a Swift string constant, so volumed serves the document's exact bytes.
import Foundation
import PackagePlugin

/// Generates `OpenAPIDocument.swift` (`let openAPIDocumentYAML: String`) from `Docs/openapi.yaml` with
/// `/bin/sh`; the build reruns it whenever the document changes.
@main
struct OpenAPIEmbed: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let input = context.package.directoryURL.appending(path: "Docs").appending(path: "openapi.yaml")
        let output = context.pluginWorkDirectoryURL.appending(path: "OpenAPIDocument.swift")
        // A raw multi-line literal whose closing delimiter starts a line: its content is the file's bytes exactly.
        let script = #"""
            set -e
            q='"'; open="####$q$q$q"; close="$q$q$q####"
            if grep -qF "$close" "$1"; then echo "$1 must not contain $close" >&2; exit 1; fi
            {
              printf '// Generated from Docs/openapi.yaml by the OpenAPIEmbed plugin at build time: do not edit.\n\n'
              printf '/// The OpenAPI document of the HTTP API, byte for byte as in Docs/openapi.yaml.\n'
              printf 'let openAPIDocumentYAML: String = %s\n' "$open"
              cat "$1"
              printf '\n%s\n' "$close"
            } > "$2.tmp"
            mv "$2.tmp" "$2"
            """#
        return [.buildCommand(displayName: "Embedding Docs/openapi.yaml", executable: URL(fileURLWithPath: "/bin/sh"),
                              arguments: ["-c", script, "embed-openapi", input.path, output.path],
                              inputFiles: [input], outputFiles: [output])]
    }
}
