// Which channels `muse serve` opens, read from environment variables so that secrets stay out of
// command lines and files: a channel is on when its variables are set, and half a channel is an
// error that names what is missing. Nothing here is ever printed.
import Foundation

public struct ChannelConfiguration: Sendable {
    /// A Meta product's webhook and Graph API settings (WhatsApp; Messenger with Instagram).
    public struct Meta: Sendable {
        public var verifyToken: String
        public var appSecret: String
        /// The token replies are sent with: a WhatsApp system user's, or a page's.
        public var accessToken: String
        public var apiBase: String
    }

    public struct Telegram: Sendable {
        public var token: String
        /// The secret given to `setWebhook`; nil: updates are fetched by long polling instead.
        public var secretToken: String?
        public var apiBase: String
    }

    public var whatsapp: Meta?
    public var messenger: Meta?
    public var telegram: Telegram?
    /// Days conversation turns are kept (nil: until the person erases them).
    public var retentionDays: Int?

    public init(whatsapp: Meta? = nil, messenger: Meta? = nil, telegram: Telegram? = nil, retentionDays: Int? = nil) {
        self.whatsapp = whatsapp
        self.messenger = messenger
        self.telegram = telegram
        self.retentionDays = retentionDays
    }

    public var isEmpty: Bool { whatsapp == nil && messenger == nil && telegram == nil }

    public static let graphAPI = "https://graph.facebook.com/v21.0"
    public static let telegramAPI = "https://api.telegram.org"

    /// The channels the variables set up (see the README for each one's).
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws(ChannelConfigurationError) -> ChannelConfiguration {
        func value(_ name: String) -> String? {
            guard let text = environment[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else { return nil }
            return text
        }
        func meta(_ prefix: String, token: String) throws(ChannelConfigurationError) -> Meta? {
            let names = ["\(prefix)_VERIFY_TOKEN", "\(prefix)_APP_SECRET", "\(prefix)_\(token)"]
            let given = names.map(value)
            if given.allSatisfy({ $0 == nil }) { return nil }
            if let missing = zip(names, given).first(where: { $0.1 == nil })?.0 { throw .missing(missing, for: prefix) }
            return Meta(verifyToken: given[0]!, appSecret: given[1]!, accessToken: given[2]!,
                        apiBase: value("\(prefix)_API_BASE") ?? graphAPI)
        }
        var configuration = ChannelConfiguration()
        configuration.whatsapp = try meta("MUSE_WHATSAPP", token: "ACCESS_TOKEN")
        configuration.messenger = try meta("MUSE_MESSENGER", token: "PAGE_TOKEN")
        if let token = value("MUSE_TELEGRAM_BOT_TOKEN") {
            if let secret = value("MUSE_TELEGRAM_SECRET_TOKEN"),
               secret.count > 256 || !secret.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) {
                throw .invalid("MUSE_TELEGRAM_SECRET_TOKEN", "1-256 characters of A-Z, a-z, 0-9, _ and -")
            }
            configuration.telegram = Telegram(token: token, secretToken: value("MUSE_TELEGRAM_SECRET_TOKEN"),
                                              apiBase: value("MUSE_TELEGRAM_API_BASE") ?? telegramAPI)
        } else if value("MUSE_TELEGRAM_SECRET_TOKEN") != nil {
            throw .missing("MUSE_TELEGRAM_BOT_TOKEN", for: "MUSE_TELEGRAM")
        }
        if let days = value("MUSE_RETENTION_DAYS") {
            guard let count = Int(days), count >= 1 else { throw .invalid("MUSE_RETENTION_DAYS", "a whole number of days from 1") }
            configuration.retentionDays = count
        }
        return configuration
    }
}

public enum ChannelConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    case missing(String, for: String)
    case invalid(String, String)

    public var description: String {
        switch self {
        case let .missing(name, channel): "\(channel)_* is set in part: \(name) is missing"
        case let .invalid(name, expected): "\(name) must be \(expected)"
        }
    }
}
