// `muse serve`: the OpenAI-compatible API (and the web chat) over HTTP.
import ArgumentParser
import Foundation
import MuseChannels
import MuseCore
import MuseEngine
import MuseRemote
import MuseServer

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the OpenAI-compatible API on HTTP.")

    @Option(help: "The address to listen on (anything but loopback needs --api-key).")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on (0: any free port, printed at start).")
    var port = 8080

    @Option(name: .customLong("api-key"), help: "A key clients must send as 'Authorization: Bearer KEY' (repeatable).")
    var apiKeys: [String] = []

    @Option(name: .customLong("max-body-kib"), help: "The largest request body accepted, in KiB.")
    var maxBodyKiB = 4096

    @Option(name: .customLong("request-timeout"), help: "Seconds a request may run before it is cut off.")
    var requestTimeout = 300

    @Option(name: .customLong("max-requests"), help: "Requests generating at once; more are refused with 429.")
    var maxRequests = 32

    @Option(name: .customLong("data-dir"), help: "Where conversations are kept (default ~/.local/share/muse).")
    var dataDirectory: String?

    @Option(help: "local (the built-in engine) or openai: serve an OpenAI-compatible server's model at --base-url, with Muse's modes and web chat on top.")
    var backend: BackendOptions.Backend = .local

    @Option(name: .customLong("base-url"), help: "With --backend openai: that server's API root, e.g. http://10.0.0.5:8000/v1.")
    var baseURL: String?

    @Option(name: .customLong("backend-api-key"), help: "With --backend openai: that server's key (default: $MUSE_API_KEY, else $OPENAI_API_KEY).")
    var backendAPIKey: String?

    @Option(name: .customLong("reply-tokens"), help: "Most tokens of a reply in the messaging channels.")
    var replyTokens = 512

    @Option(name: .customLong("speech-model"), help: "The speech model for /v1/audio/transcriptions and voice notes: a known model's name or a CTranslate2 folder, fetched if absent; 'none' turns speech off (default: \(KnownModel.defaultSpeech.name) if it is in the store).")
    var speechModel: String?

    @OptionGroup var modelOptions: ModelOptions

    func validate() throws {
        if apiKeys.isEmpty && !ServerConfiguration.isLoopback(host) {
            throw ValidationError("--host \(host) is reachable from other machines: give at least one --api-key")
        }
        if apiKeys.contains(where: { $0.count < 8 }) { throw ValidationError("--api-key must be at least 8 characters") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard maxBodyKiB >= 1 else { throw ValidationError("--max-body-kib must be positive") }
        guard requestTimeout >= 1 else { throw ValidationError("--request-timeout must be positive") }
        guard maxRequests >= 1 else { throw ValidationError("--max-requests must be positive") }
        guard (1...4096).contains(replyTokens) else { throw ValidationError("--reply-tokens must be between 1 and 4096") }
        try BackendOptions.check(backend, baseURL: baseURL, keyGiven: backendAPIKey != nil, keyOption: "--backend-api-key")
    }

    func run() async throws {
        let model: any LanguageModel
        let id: String
        if backend == .openai,
           let remote = try await BackendOptions.remoteModel(baseURL: baseURL, key: backendAPIKey, model: modelOptions.model) {
            (model, id) = (remote, remote.name)
        } else {
            model = try modelOptions.load(maxSequences: max(maxRequests, 32))
            id = modelOptions.model.map { $0.hasSuffix(".gguf") ? URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent : $0 }
                ?? KnownModel.default.name
        }
        let limits = ServerLimits(maxBodyBytes: maxBodyKiB << 10, requestTimeout: .seconds(requestTimeout),
                                  maxConcurrentRequests: maxRequests)
        var configuration = ServerConfiguration(host: host, port: port, apiKeys: apiKeys, modelID: id, limits: limits,
                                                dataDirectory: try DataDirectory.resolve(dataDirectory))
        // The messaging channels are set up by environment variables, which keep their secrets
        // out of command lines (see the README).
        do { configuration.channels = try ChannelConfiguration.fromEnvironment() } catch { throw ValidationError("\(error)") }
        configuration.channelSettings.replyTokens = replyTokens
        // Channel messages waiting at once, everyone together: four times the API's requests.
        configuration.channelSettings.maxPending = 4 * maxRequests
        let channels = configuration.channels
        let speech = try loadSpeech()
        let app = try MuseServer.application(model: model, speech: speech, configuration: configuration) { address in
            Terminal.status("muse serves \(id) at http://\(address)/v1 (OpenAI-compatible)")
            if speech != nil {
                Terminal.status("  speech to text: http://\(address)/v1/audio/transcriptions")
            } else if speechModel != "none" {
                Terminal.status("  speech to text is off (no speech model: muse models fetch \(KnownModel.defaultSpeech.name))")
            }
            for (name, on) in [("WhatsApp", channels.whatsapp != nil), ("Messenger and Instagram", channels.messenger != nil)] where on {
                Terminal.status("  \(name) webhook: http://\(address)/channels/\(name == "WhatsApp" ? "whatsapp" : "messenger")")
            }
            if let telegram = channels.telegram {
                Terminal.status(telegram.secretToken == nil ? "  Telegram: polling for updates" : "  Telegram webhook: http://\(address)/channels/telegram")
            }
        }
        try await app.runService()
    }

    /// The speech model: the one named (fetched if absent), else the default if it is stored.
    private func loadSpeech() throws -> SpeechService? {
        if speechModel == "none" { return nil }
        let store = ModelStore()
        if speechModel == nil, !store.list().contains(where: { $0.name == KnownModel.defaultSpeech.name }) { return nil }
        let transcriber = try Transcribe.load(speechModel, threads: modelOptions.threads)
        return SpeechService(transcriber: transcriber)
    }
}
