// Counts every request for /metrics: route pattern, method, status, latency (when the body is written), bytes in and out.
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Outermost middleware (before the error middleware, so errors are counted with their status).
struct RequestMetricsMiddleware: RouterMiddleware {
    typealias Context = VolumeRequestContext
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        let metrics = self.metrics
        var request = request
        let counted = request.body.map { buffer -> ByteBuffer in
            metrics.bytesIn.increment(by: Int64(buffer.readableBytes))
            return buffer
        }
        request.body = RequestBody(asyncSequence: counted)
        var response = try await next(request, context)
        let status = Int(response.status.code)
        let route = context.endpointPath ?? "unmatched"
        let method = request.method.rawValue
        let body = response.body
        let finished: @Sendable () -> Void = {
            metrics.request(route: route, method: method, status: status, nanoseconds: DispatchTime.now().uptimeNanoseconds - start)
        }
        response.body = ResponseBody(contentLength: body.contentLength) { writer in
            do {
                try await body.write(CountingWriter(inner: writer, metrics: metrics))
            } catch {
                finished()
                throw error
            }
            finished()
        }
        return response
    }
}

/// Passes writes through, counting their bytes.
struct CountingWriter: ResponseBodyWriter {
    var inner: any ResponseBodyWriter
    let metrics: ServerMetrics

    mutating func write(_ buffer: ByteBuffer) async throws {
        metrics.bytesOut.increment(by: Int64(buffer.readableBytes))
        try await inner.write(buffer)
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {
        try await inner.finish(trailingHeaders)
    }
}
