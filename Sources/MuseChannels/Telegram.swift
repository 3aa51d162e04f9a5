// Telegram's Bot API: updates from the webhook (checked by its secret token) or from long polling,
// and messages sent back with sendMessage.
import Foundation
import MuseCore

public enum TelegramUpdates {
    /// Checks `X-Telegram-Bot-Api-Secret-Token` against the secret given to `setWebhook`.
    public static func verify(secretHeader: String?, secret: String) throws(DeliveryError) {
        guard let secretHeader, !secretHeader.isEmpty else { throw .unsigned }
        guard equalInConstantTime(secretHeader, secret) else { throw .badSignature }
    }

    /// The message in one update, when it is one a person sent in a private chat (edits, group
    /// and channel posts, button presses and the rest are acknowledged and left alone).
    public static func message(in body: [UInt8]) throws(DeliveryError) -> Inbound? {
        let update: JSONValue
        do { update = try JSONValue.parse(body) } catch { throw .malformed("\(error)") }
        return try message(in: update)
    }

    static func message(in update: JSONValue) throws(DeliveryError) -> Inbound? {
        guard case .number(let updateID)? = update["update_id"] else { throw .malformed(#"expected {"update_id": ..., ...}"#) }
        guard let message = update["message"] else { return nil }
        guard case .number(let chat)? = message["chat"]?["id"], case .string(let type)? = message["chat"]?["type"] else {
            throw .malformed("a Telegram message needs chat.id and chat.type")
        }
        guard type == "private", message["from"]?["is_bot"] != .bool(true) else { return nil }
        let content: Inbound.Content
        if case .string(let text)? = message["text"] {
            content = .text(text)
        } else if case .string(let file)? = (message["voice"] ?? message["audio"])?["file_id"] {
            content = .voice(file)
        } else {
            let kinds = ["photo", "video", "video_note", "document", "sticker", "location", "contact"]
            content = .unsupported(kinds.first { message[$0] != nil } ?? "message")
        }
        return Inbound(platform: .telegram, sender: chat.text, messageID: updateID.text, content: content, recipient: "bot")
    }

    /// The updates of a `getUpdates` answer, with the offset that acknowledges them.
    static func polled(_ body: [UInt8]) throws(DeliveryError) -> (messages: [Inbound], nextOffset: Int?) {
        let root: JSONValue
        do { root = try JSONValue.parse(body) } catch { throw .malformed("\(error)") }
        guard root["ok"] == .bool(true), case .array(let updates)? = root["result"] else {
            throw .malformed("getUpdates answered: \(String(decoding: body.prefix(300), as: UTF8.self))")
        }
        var messages: [Inbound] = [], last: Int?
        for update in updates {
            if case .number(let id)? = update["update_id"], let id = id.integer { last = max(last ?? id, id) }
            if let message = try message(in: update) { messages.append(message) }
        }
        return (messages, last.map { $0 + 1 })
    }
}

/// Updates fetched with `getUpdates` (long polling), for a bot without a public webhook URL: each
/// batch is taken by the hub, then acknowledged by asking from the next update id.
public struct TelegramPoller: Sendable {
    let api: PlatformAPI
    let token: String
    let hub: ChannelHub
    let report: @Sendable (String) -> Void
    /// Seconds Telegram holds a poll open when there is nothing new.
    static let holdSeconds = 25

    public init(base: String, token: String, hub: ChannelHub, report: @escaping @Sendable (String) -> Void = { _ in }) {
        api = PlatformAPI(platform: .telegram, base: base.trimmingSuffix("/"), bearer: nil)
        self.token = token
        self.hub = hub
        self.report = report
    }

    /// Polls until cancelled; a failed poll is told and retried after a pause.
    public func run() async {
        var offset: Int?
        while !Task.isCancelled {
            do {
                var request: JSONObject = ["timeout": .number(JSONNumber(Self.holdSeconds)), "allowed_updates": ["message"]]
                if let offset { request["offset"] = .number(JSONNumber(offset)) }
                let answer = try await api.post("/bot\(token)/getUpdates", .object(request), timeout: .seconds(Int64(Self.holdSeconds + 10)))
                let (messages, next) = try TelegramUpdates.polled(answer)
                try await hub.take(messages)
                if let next { offset = next }
            } catch {
                // A poll cut short by shutting down is not a failure.
                if Task.isCancelled { return }
                report("Telegram polling: \(error)")
                try? await Task.sleep(for: .seconds(5))
            }
        }
    }
}
