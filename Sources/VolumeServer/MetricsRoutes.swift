// GET /metrics: Prometheus text for the operator (an operator key is required; tenant keys get 403).
import Hummingbird
import NIOCore

struct MetricsRoutes: Sendable {
    let host: VolumeHost
    let bridge: BlockingBridge
    let metrics: ServerMetrics
    let watches: WatchHub
    let housekeeper: Housekeeper

    func register(on router: Router<VolumeRequestContext>) {
        router.get("/metrics", use: scrape)
    }

    @Sendable func scrape(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        try RequestHelpers.requireOperator(context)
        let host = self.host, metrics = self.metrics, watches = self.watches, hk = self.housekeeper
        let text = try await bridge.run { try metrics.render(host: host, watches: watches, housekeeper: hk) }
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: text)))
    }
}
