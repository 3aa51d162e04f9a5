// The HTTP application behind `muse serve` (and the tests): the OpenAI-compatible routes, the web
// chat, keys, bounds and OpenAI-shaped errors.
import Foundation
import Hummingbird
import Logging
import MuseChannels
import MuseCore
import MuseOpenAI
import ServiceLifecycle

public enum MuseServer {
    /// The application for `model` under `configuration`; run it with `runService()`. `onRunning`
    /// gets the address it listens on (the port chosen when the configuration says 0).
    /// `speech`, if given, transcribes uploads (`/v1/audio/transcriptions`) and the channels' voice notes.
    public static func application(model: any LanguageModel, speech: (any SpeechRecognizer)? = nil, configuration: ServerConfiguration,
                                   onRunning: @escaping @Sendable (String) -> Void = { _ in }) throws -> some ApplicationProtocol {
        var logger = Logger(label: "muse.server")
        logger.logLevel = .notice
        let data = try PersonalData(directory: configuration.dataDirectory)
        let routes = Routes(model: model, configuration: configuration, data: data)
        let router = Router()
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: MetricsMiddleware(metrics: routes.metrics))
        router.get("/health") { _, _ in try routes.health() }
        router.group("metrics").add(middleware: KeyMiddleware(keys: configuration.apiKeys)).get { _, _ in routes.metricsText() }
        let api = router.group("v1")
        api.add(middleware: KeyMiddleware(keys: configuration.apiKeys))
        api.get("models") { _, _ in try routes.models() }
        api.post("chat/completions") { request, _ in try await routes.chatCompletions(request) }
        api.post("completions") { request, _ in try await routes.completions(request) }
        MemoryRoutes(routes: routes, data: data).add(to: api)
        AudioRoutes(routes: routes, speech: speech).add(to: api)
        let store = try ConversationStore(path: configuration.dataDirectory?.appendingPathComponent("conversations.sqlite").path)
        WebChatRoutes(routes: routes, store: store).add(to: router, keys: configuration.apiKeys)
        WebAssets.add(to: router)
        var services: [any Service] = []
        if !configuration.channels.isEmpty {
            let hub = channelHub(model: model, speech: speech, configuration: configuration, data: data, logger: logger)
            let logger = logger
            ChannelRoutes(routes: routes, hub: hub, configuration: configuration.channels).add(to: router)
            // Without a public URL for a webhook, Telegram is asked for updates instead, until the
            // server shuts down.
            if let telegram = configuration.channels.telegram, telegram.secretToken == nil {
                services.append(PollingService(poller: TelegramPoller(base: telegram.apiBase, token: telegram.token, hub: hub) {
                    logger.warning("\($0)")
                }))
            }
        }
        return Application(router: router,
                           configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "muse"),
                           services: services,
                           onServerRunning: { channel in
                               let address = channel.localAddress
                               onRunning("\(address?.ipAddress ?? configuration.host):\(address?.port ?? configuration.port)")
                           },
                           logger: logger)
    }

    /// The hub that answers the channels, keeping what it keeps of people in the data directory
    /// (see `PersonalData`).
    static func channelHub(model: any LanguageModel, speech: (any SpeechRecognizer)?, configuration: ServerConfiguration,
                           data: PersonalData, logger: Logger) -> ChannelHub {
        var senders: [Platform: any ChannelSender] = [:]
        let channels = configuration.channels
        if let whatsapp = channels.whatsapp { senders[.whatsapp] = WhatsAppSender(base: whatsapp.apiBase, accessToken: whatsapp.accessToken) }
        if let messenger = channels.messenger {
            let sender = MessengerSender(base: messenger.apiBase, pageAccessToken: messenger.accessToken)
            senders[.messenger] = sender
            senders[.instagram] = sender
        }
        if let telegram = channels.telegram { senders[.telegram] = TelegramSender(base: telegram.apiBase, token: telegram.token) }
        var settings = configuration.channelSettings
        if let days = channels.retentionDays { settings.retention = TimeInterval(days) * 86_400 }
        return ChannelHub(model: model, speech: speech, data: data, senders: senders, settings: settings) { logger.warning("\($0)") }
    }
}

/// Telegram's long polling as a service of the application: it starts with the server and is
/// cancelled when the server shuts down.
struct PollingService: Service {
    let poller: TelegramPoller

    func run() async {
        await cancelWhenGracefulShutdown { await poller.run() }
    }
}

struct Routes: Sendable {
    let model: any LanguageModel
    let service: ChatService
    let configuration: ServerConfiguration
    let admission: Admission
    let metrics: ServerMetrics
    let started = Int(Date().timeIntervalSince1970)

    init(model: any LanguageModel, configuration: ServerConfiguration, data: PersonalData) {
        self.model = model
        metrics = ServerMetrics(model: model)
        service = ChatService(model: model, metrics: metrics, facts: data.facts)
        self.configuration = configuration
        admission = Admission(limit: configuration.limits.maxConcurrentRequests)
    }

    var limits: ServerLimits { configuration.limits }

    func health() throws -> Response {
        try .json(["status": "ok", "model": .string(configuration.modelID)] as JSONValue)
    }

    func metricsText() -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: metrics.exposition(requestsInFlight: admission.inUse))))
    }

    func models() throws -> Response {
        try .json(ModelList(data: [.init(id: configuration.modelID, created: started, ownedBy: "muse")]))
    }

    func chatCompletions(_ request: Request) async throws -> Response {
        let bytes = try await readBody(request)
        let body: ChatCompletionRequest = try decode(bytes)
        try checkModel(body.model)
        var checked = try ChatJob(body, limits: limits, formats: model.validate, written: try? JSONValue.parse(bytes))
        if body.muse?.memory == true {
            guard service.facts != nil else { throw APIError.invalidRequest("this server keeps no memory (it has no data directory)", param: "muse.memory") }
            checked.memoryUser = MemoryRoutes.caller(of: request, keys: configuration.apiKeys)
        }
        let job = checked
        let ticket = try admission.enter()
        let id = "chatcmpl-" + Self.randomID()
        let created = Int(Date().timeIntervalSince1970)
        let pieces = service.pieces(job, timeLimit: limits.requestTimeout)
        let modelID = configuration.modelID
        if job.stream {
            return .eventStream { writer in
                _ = ticket
                try await ChatStream(id: id, created: created, model: modelID, job: job).write(pieces, to: &writer)
            }
        }
        var accumulator = ChatAccumulator(choices: job.choices)
        for try await piece in pieces { accumulator.add(piece) }
        withExtendedLifetime(ticket) {}
        return try .json(accumulator.completion(id: id, created: created, model: modelID, job: job))
    }

    func completions(_ request: Request) async throws -> Response {
        let body: CompletionRequest = try await decodeBody(request)
        try checkModel(body.model)
        let job = try TextJob(body, limits: limits, formats: model.validate)
        let ticket = try admission.enter()
        let id = "cmpl-" + Self.randomID()
        let created = Int(Date().timeIntervalSince1970)
        let pieces = service.pieces(job.chatJob, timeLimit: limits.requestTimeout, rawPrompt: job.prompt)
        let modelID = configuration.modelID
        if job.stream {
            return .eventStream { writer in
                _ = ticket
                try await TextStream(id: id, created: created, model: modelID, job: job).write(pieces, to: &writer)
            }
        }
        var accumulator = ChatAccumulator(choices: job.chatJob.choices)
        for try await piece in pieces { accumulator.add(piece) }
        withExtendedLifetime(ticket) {}
        return try .json(job.completion(accumulator, id: id, created: created, model: modelID))
    }

    private func checkModel(_ name: String) throws(APIError) {
        guard name == configuration.modelID || name == "muse" else {
            throw APIError.notFound("the model \(name) does not exist; this server has \(configuration.modelID)")
        }
    }

    func decodeBody<T: Decodable>(_ request: Request) async throws -> T {
        try decode(await readBody(request))
    }

    /// The request body, refused with 413 past the size cap (`limit`, else the server's).
    func readBody(_ request: Request, limit: Int? = nil) async throws -> [UInt8] {
        // A body over the limit is still read to its end (up to a bound), so that the client,
        // which is busy sending it, gets to read the 413.
        let limit = limit ?? limits.maxBodyBytes, discardLimit = limit + (64 << 20)
        let declared = request.headers[.contentLength].flatMap(Int.init) ?? 0
        var buffer = ByteBuffer(), total = 0
        if declared <= discardLimit {
            for try await chunk in request.body {
                total += chunk.readableBytes
                if total > discardLimit { break }
                if total <= limit { buffer.writeImmutableBuffer(chunk) }
            }
        }
        let size = max(declared, total)
        guard size <= limit else {
            throw APIError.tooLarge("the request body is \(size) bytes; the limit is \(limit)")
        }
        return Array(buffer.readableBytesView)
    }

    /// The body as `T`, or a 400 that says where it does not fit.
    func decode<T: Decodable>(_ bytes: [UInt8]) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw APIError.invalidRequest(Self.describe(error))
        } catch {
            throw APIError.invalidRequest("the body is not valid JSON: \(error.localizedDescription)")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .dataCorrupted(let c) where c.codingPath.isEmpty: return "the body is not valid JSON"
        case .dataCorrupted(let c): return "\(c.jsonPath): \(c.debugDescription)"
        case .keyNotFound(let key, let c): return "missing required field \(DecodingError.jsonPath(c.codingPath + [key]))"
        case .typeMismatch(let type, let c), .valueNotFound(let type, let c):
            return "\(c.jsonPath) must be \(type == String.self ? "a string" : "of type \(type)")"
        @unknown default: return "the body does not match the expected shape"
        }
    }

    static func randomID() -> String {
        (0..<24).map { _ in String("abcdefghijklmnopqrstuvwxyz0123456789".randomElement()!) }.joined()
    }
}
