import MigruCore
import os

/// Sends the Rust core's log lines to the unified log (Console.app, `log stream`).
final class OSLogSink: LogSink, @unchecked Sendable {
    private let logger = Logger(subsystem: "org.migru", category: "core")

    func log(level: LogLevel, target: String, message: String) {
        switch level {
        case .error: logger.error("\(target, privacy: .public): \(message, privacy: .public)")
        case .warn: logger.warning("\(target, privacy: .public): \(message, privacy: .public)")
        case .info: logger.info("\(target, privacy: .public): \(message, privacy: .public)")
        case .debug, .trace: logger.debug("\(target, privacy: .public): \(message, privacy: .public)")
        }
    }
}

public enum MigruLogging {
    /// Idempotent: the library keeps the first sink for the life of the process.
    public static func start(debug: Bool = false) {
        _ = initLogging(level: debug ? .debug : .info, sink: OSLogSink())
    }
}
