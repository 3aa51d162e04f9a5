// What `muse serve` is told: where to listen, who may call, and the bounds every request lives in.
import Foundation
import MuseChannels

public struct ServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Bearer keys accepted on the API; empty: no key needed (loopback only, enforced by the CLI).
    public var apiKeys: [String]
    /// The id the model is listed and addressed by (`GET /v1/models`, a request's `model`).
    public var modelID: String
    public var limits: ServerLimits
    /// Where conversations of the web chat are kept, and what the channels keep of people.
    public var dataDirectory: URL?
    /// The messaging channels to open (none by default).
    public var channels = ChannelConfiguration()
    public var channelSettings = ChannelSettings()

    public init(host: String = "127.0.0.1", port: Int = 8080, apiKeys: [String] = [], modelID: String,
                limits: ServerLimits = ServerLimits(), dataDirectory: URL? = nil) {
        self.host = host
        self.port = port
        self.apiKeys = apiKeys
        self.modelID = modelID
        self.limits = limits
        self.dataDirectory = dataDirectory
    }

    /// Whether `host` only accepts connections from this machine.
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}

public struct ServerLimits: Sendable {
    /// Largest request body accepted (413 beyond).
    public var maxBodyBytes: Int
    /// Longest a request may run before it is cut off.
    public var requestTimeout: Duration
    /// Requests generating at once; more are refused with 429.
    public var maxConcurrentRequests: Int
    /// Most tokens one completion may ask for, and the default when a request names none.
    public var maxTokens: Int
    public var defaultMaxTokens: Int
    /// Most completions per request (`n`) and agents per Contemplating request.
    public var maxChoices: Int

    public init(maxBodyBytes: Int = 4 << 20, requestTimeout: Duration = .seconds(300), maxConcurrentRequests: Int = 32,
                maxTokens: Int = 4096, defaultMaxTokens: Int = 512, maxChoices: Int = 8) {
        self.maxBodyBytes = maxBodyBytes
        self.requestTimeout = requestTimeout
        self.maxConcurrentRequests = maxConcurrentRequests
        self.maxTokens = maxTokens
        self.defaultMaxTokens = defaultMaxTokens
        self.maxChoices = maxChoices
    }
}
