// volumebench hello-server: a bare Hummingbird server, the ceiling of small requests over HTTP on this host.
import ArgumentParser
import Foundation
import Hummingbird

/// A Hummingbird 2 server with one route, `GET /hello`, answering a fixed JSON body of about the size of
/// a stat's, with no middleware, no key check and no core call: what the HTTP framework the daemon is
/// built on does per request on this host, measured by `tools/bench-http.sh` with the same client as
/// the daemon's small-file workloads (the `floor_*` rows). Runs until killed.
struct HelloServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "hello-server",
                                                    abstract: "A bare Hummingbird server (GET /hello) for tools/bench-http.sh's floor rows.")

    @Option(help: "Where to write the server's URL once it listens.") var addressFile: String
    @Option(help: "The port (0: any free one).") var port: Int = 0

    func run() async throws {
        let body = ByteBuffer(string: #"{"gid":0,"mode":"0644","modified":"2026-12-08T00:00:00Z","name":"f000001","path":"/bench/f000001","size":4096,"type":"file","uid":0}"#)
        let router = Router()
        router.get("/hello") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
        }
        let file = addressFile
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)),
                              onServerRunning: { channel in
                                  let url = "http://127.0.0.1:\(channel.localAddress?.port ?? 0)\n"
                                  try? Data(url.utf8).write(to: URL(fileURLWithPath: file), options: .atomic)
                              })
        try await app.runService()
    }
}
