// The messaging channels' webhooks: Meta's subscription handshake and signed deliveries
// (WhatsApp at /channels/whatsapp, Messenger and Instagram at /channels/messenger) and Telegram's
// updates (/channels/telegram). A delivery is checked before anything in it is read or stored,
// then acknowledged at once; the answers go out through the platforms' APIs later.
import Foundation
import Hummingbird
import MuseChannels
import MuseCore
import MuseOpenAI

struct ChannelRoutes: Sendable {
    let routes: Routes
    let hub: ChannelHub
    let configuration: ChannelConfiguration

    func add(to router: Router<BasicRequestContext>) {
        for (path, meta) in [("channels/whatsapp", configuration.whatsapp), ("channels/messenger", configuration.messenger)] {
            guard let meta else { continue }
            router.get(RouterPath(path)) { request, _ in try handshake(request, meta: meta) }
            router.post(RouterPath(path)) { request, _ in
                let body = try await routes.readBody(request)
                try check { () throws(DeliveryError) in
                    try MetaWebhook.verify(body: body, signature: header("x-hub-signature-256", of: request),
                                           appSecret: meta.appSecret)
                }
                return try await deliver(try check { () throws(DeliveryError) in try MetaWebhook.messages(in: body) })
            }
        }
        if let telegram = configuration.telegram, let secret = telegram.secretToken {
            router.post("channels/telegram") { request, _ in
                let body = try await routes.readBody(request)
                try check { () throws(DeliveryError) in
                    try TelegramUpdates.verify(secretHeader: header("x-telegram-bot-api-secret-token", of: request),
                                               secret: secret)
                }
                let message = try check { () throws(DeliveryError) in try TelegramUpdates.message(in: body) }
                return try await deliver(message.map { [$0] } ?? [])
            }
        }
    }

    private func handshake(_ request: Request, meta: ChannelConfiguration.Meta) throws -> Response {
        let query = request.uri.queryParameters
        guard let challenge = MetaWebhook.handshake(mode: query["hub.mode"].map(String.init), token: query["hub.verify_token"].map(String.init),
                                                    challenge: query["hub.challenge"].map(String.init), verifyToken: meta.verifyToken) else {
            throw APIError(status: 403, message: "the verify token does not match", type: "authentication_error")
        }
        return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: challenge)))
    }

    private func deliver(_ messages: [Inbound]) async throws -> Response {
        try await hub.take(messages)
        return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: "ok")))
    }

    /// The first value of the header `name` (in lower case).
    private func header(_ name: String, of request: Request) -> String? {
        request.headers.first { $0.name.canonicalName == name }?.value
    }

    /// The step's result, or its refusal as the status the platform should see.
    private func check<T>(_ step: () throws(DeliveryError) -> T) throws(APIError) -> T {
        do {
            return try step()
        } catch {
            switch error {
            case .unsigned: throw APIError(status: 401, message: error.description, type: "authentication_error")
            case .badSignature: throw APIError(status: 403, message: error.description, type: "authentication_error")
            case .malformed: throw APIError.invalidRequest(error.description)
            }
        }
    }
}
