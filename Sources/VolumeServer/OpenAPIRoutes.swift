// GET /openapi.yaml: the API's contract, Docs/openapi.yaml as embedded at build time (no key needed).
import Hummingbird

struct OpenAPIRoutes: Sendable {
    /// The document's bytes, exactly as in the repository's Docs/openapi.yaml.
    static let document: String = openAPIDocumentYAML

    func register(on router: Router<VolumeRequestContext>) {
        router.get("/openapi.yaml", use: yaml)
    }

    @Sendable func yaml(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/yaml"],
                 body: .init(byteBuffer: ByteBuffer(string: Self.document)))
    }
}
