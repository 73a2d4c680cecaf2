// How every volumectl command reports: one-line errors with distinct exit codes, JSON or table output.
import ArgumentParser
import Foundation
import VolumeCore

/// Runs a command body; a `VolumeError` becomes one line on stderr and its exit code.
func reporting(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as VolumeError {
        writeStderr("volumectl: \(e)\n")
        throw ExitCode(e.exitCode)
    } catch let e as RemoteFailure {
        writeStderr("volumectl: \(e.message)\n")
        throw ExitCode(e.exitCode)
    } catch let e as ExitCode {
        throw e
    } catch let e as CleanExit {
        throw e
    } catch {
        writeStderr("volumectl: internal error: \(error)\n")
        throw ExitCode(70)
    }
}

/// Prints a value as pretty, key-sorted JSON.
func printJSON<T: Encodable>(_ value: T) throws {
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try enc.encode(value), as: UTF8.self))
}

/// Prints rows as an aligned table with a header.
func printTable(_ header: [String], _ rows: [[String]]) {
    var widths = header.map(\.count)
    for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { i, c in i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
            .joined(separator: "  ")
    }
    print(line(header))
    for r in rows { print(line(r)) }
}
