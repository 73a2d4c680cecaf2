// A log handler that formats its metadata only when a line is written, not each time a key is set.
import Logging

/// Wraps swift-log's `StreamLogHandler`, which formats all of its metadata into a string whenever a key
/// is set. Hummingbird sets one (`hb.request.id`) on every request's logger, so that formatting ran on
/// every request (4% of a request's CPU under load) for lines that are almost never written. This
/// handler keeps the metadata aside and hands it to the stream handler only for a line that is logged;
/// what is written is unchanged.
struct LazyMetadataLogHandler: LogHandler {
    private var stream: StreamLogHandler
    var metadata: Logger.Metadata = [:]

    init(label: String) { stream = StreamLogHandler.standardError(label: label) }

    var logLevel: Logger.Level {
        get { stream.logLevel }
        set { stream.logLevel = newValue }
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { stream.metadataProvider }
        set { stream.metadataProvider = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var s = stream
        if !metadata.isEmpty { s.metadata = metadata }
        s.log(event: event)
    }
}
