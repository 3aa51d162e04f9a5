// The web chat's API under /api: conversations kept on the server, and a reply streamed in the same
// chunks as /v1/chat/completions (with the agent trace), stored when it ends — finished, stopped by
// the person, or failed — so that nothing said is lost.
import Foundation
import Hummingbird
import MuseCore
import MuseOpenAI

struct WebChatRoutes: Sendable {
    let routes: Routes
    let store: ConversationStore

    struct NewConversation: Decodable { var title: String? }
    struct NewMessage: Decodable {
        var content: String
        var mode: String?
        var agents: Int?
    }
    struct ConversationDetail: Encodable {
        var conversation: ConversationSummary
        var messages: [StoredMessage]
    }

    func add(to router: Router<BasicRequestContext>, keys: [String]) {
        let api = router.group("api/conversations")
        api.add(middleware: KeyMiddleware(keys: keys))
        api.get { _, _ in try Response.json(try store.list()) }
        api.post { request, _ in
            let body: NewConversation = try await routes.decodeBody(request)
            return try Response.json(try store.create(title: body.title ?? ""))
        }
        api.get(":id") { _, context in
            let (conversation, messages) = try store.conversation(try context.parameters.require("id"))
            return try Response.json(ConversationDetail(conversation: conversation, messages: messages))
        }
        api.delete(":id") { _, context in
            try store.delete(try context.parameters.require("id"))
            return Response(status: .noContent)
        }
        api.post(":id/messages") { request, context in try await reply(request, id: try context.parameters.require("id")) }
    }

    /// Stores the person's message, then streams the reply and stores it when the stream ends.
    private func reply(_ request: Request, id: String) async throws -> Response {
        let body: NewMessage = try await routes.decodeBody(request)
        let text = body.content.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw APIError.invalidRequest("the message is empty", param: "content") }
        let (_, history) = try store.conversation(id)
        var chat = ChatCompletionRequest(model: routes.configuration.modelID,
                                         messages: history.filter { !$0.content.isEmpty }.map { Message(role: $0.role, content: .text($0.content)) }
                                             + [Message(role: "user", content: .text(text))])
        chat.stream = true
        chat.muse = .init(mode: body.mode ?? "instant", agents: body.agents, trace: true)
        let job = try ChatJob(chat, limits: routes.limits, formats: routes.model.validate)
        let ticket = try routes.admission.enter()
        try store.append(StoredMessage(role: "user", content: text, created: Date().timeIntervalSince1970), to: id)

        let pieces = routes.service.pieces(job, timeLimit: routes.limits.requestTimeout)
        let observed = Self.storing(pieces, mode: body.mode ?? "instant") { [store] message in
            try? store.append(message, to: id)
        }
        let stream = ChatStream(id: "chatcmpl-" + Routes.randomID(), created: Int(Date().timeIntervalSince1970),
                                model: routes.configuration.modelID, job: job)
        return Response.eventStream { writer in
            _ = ticket
            try await stream.write(observed, to: &writer)
        }
    }

    /// `pieces` passed through, gathered into the answer that `save` gets once they end.
    static func storing(_ pieces: AsyncThrowingStream<ChatPiece, any Error>, mode: String,
                        save: @escaping @Sendable (StoredMessage) -> Void) -> AsyncThrowingStream<ChatPiece, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                var answer = ChatAccumulator(choices: 1)
                var note: String?
                do {
                    for try await piece in pieces {
                        answer.add(piece)
                        continuation.yield(piece)
                    }
                    if Task.isCancelled { note = "stopped" }
                    continuation.finish()
                } catch {
                    note = Task.isCancelled || error is CancellationError ? "stopped" : APIError.from(error).message
                    continuation.finish(throwing: error)
                }
                let choice = answer.choices[0]
                save(StoredMessage(role: "assistant", content: (choice.finalContent ?? choice.content).trimmingCharacters(in: .whitespacesAndNewlines),
                                   reasoning: choice.reasoning.isEmpty ? nil : choice.reasoning,
                                   trace: answer.trace.isEmpty ? nil : answer.trace, mode: mode, note: note,
                                   created: Date().timeIntervalSince1970))
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

/// The page itself: `Web/index.html`, `Web/style.css` and `Web/app.js`, compiled into the binary
/// at build time (no CDN, works offline). Plain HTML, CSS and JavaScript; no framework.
enum WebAssets {
    static func add(to router: Router<BasicRequestContext>) {
        router.get("/") { _, _ -> Response in file(PackageResources.index_html, type: "text/html; charset=utf-8") }
        router.get("/app.js") { _, _ -> Response in file(PackageResources.app_js, type: "text/javascript; charset=utf-8") }
        router.get("/style.css") { _, _ -> Response in file(PackageResources.style_css, type: "text/css; charset=utf-8") }
    }

    private static func file(_ bytes: [UInt8], type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "no-cache"],
                 body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
