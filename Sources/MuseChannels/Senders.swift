// Replies going out: one client per platform API, each with a base URL that can be pointed at a
// local fake, and replies split where the platform's length limit says.
import AsyncHTTPClient
import Foundation
import MuseCore
import NIOCore

/// Sends a reply to the person a message came from.
public protocol ChannelSender: Sendable {
    func send(_ text: String, replyingTo message: Inbound) async throws
    /// The bytes of a voice note the platform holds (`Inbound.Content.voice`).
    func download(_ media: String) async throws -> Data
}

/// The longest voice note downloaded.
let maxMediaBytes = 25 << 20

/// Why a platform did not take a reply. It never carries a token, nor a URL that holds one.
public struct SendError: Error, Sendable, CustomStringConvertible {
    public var platform: Platform
    public var reason: String
    public var description: String { "\(platform.rawValue) did not take the reply: \(reason)" }
}

/// POSTs JSON to a platform's API and checks the answer.
struct PlatformAPI: Sendable {
    let platform: Platform
    /// The API's root, e.g. `https://graph.facebook.com/v21.0`, without a trailing slash.
    let base: String
    let bearer: String?
    static let timeout: TimeAmount = .seconds(30)

    /// The answer's body, when the API took the request.
    @discardableResult
    func post(_ path: String, _ body: JSONValue, timeout: TimeAmount = timeout) async throws -> [UInt8] {
        var request = HTTPClientRequest(url: base + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let bearer { request.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
        request.body = .bytes(ByteBuffer(string: body.jsonText))
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: timeout)
        } catch {
            throw SendError(platform: platform, reason: "cannot reach its API (\(type(of: error)))")
        }
        let answer = (try? await response.body.collect(upTo: 4 << 20)).map { Array(buffer: $0) } ?? []
        guard (200..<300).contains(response.status.code) else {
            throw SendError(platform: platform, reason: "HTTP \(response.status.code): \(String(decoding: answer.prefix(300), as: UTF8.self))")
        }
        return answer
    }

    /// GETs `url` (a path under `base`, or a whole URL the platform handed out), the answer's bytes.
    func get(_ url: String, bearer: String? = nil, limit: Int = maxMediaBytes) async throws -> [UInt8] {
        var request = HTTPClientRequest(url: url.hasPrefix("http") ? url : base + url)
        if let bearer { request.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: Self.timeout)
        } catch {
            throw SendError(platform: platform, reason: "cannot reach its API (\(type(of: error)))")
        }
        let body: [UInt8]
        do { body = Array(buffer: try await response.body.collect(upTo: limit)) } catch {
            throw SendError(platform: platform, reason: "the media is larger than \(limit >> 20) MiB")
        }
        guard (200..<300).contains(response.status.code) else {
            throw SendError(platform: platform, reason: "HTTP \(response.status.code) for media: \(String(decoding: body.prefix(300), as: UTF8.self))")
        }
        return body
    }

    /// A string field of a JSON answer.
    func field(_ path: [String], of body: [UInt8]) throws -> String {
        var value = try? JSONValue.parse(body)
        for key in path { value = value?[key] }
        guard case .string(let text)? = value else {
            throw SendError(platform: platform, reason: "the media answer has no \(path.joined(separator: "."))")
        }
        return text
    }
}

public struct WhatsAppSender: ChannelSender {
    let api: PlatformAPI

    /// `base` is the Graph API's root with its version; `accessToken` the WhatsApp system user's token.
    public init(base: String, accessToken: String) {
        api = PlatformAPI(platform: .whatsapp, base: base.trimmingSuffix("/"), bearer: accessToken)
    }

    /// The media's URL from the Graph API, then its bytes, both with the token.
    public func download(_ media: String) async throws -> Data {
        let url = try api.field(["url"], of: try await api.get("/\(media)", bearer: api.bearer))
        return Data(try await api.get(url, bearer: api.bearer))
    }

    public func send(_ text: String, replyingTo message: Inbound) async throws {
        try await api.post("/\(message.recipient)/messages", [
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": .string(message.sender),
            "type": "text", "text": ["preview_url": false, "body": .string(text)],
        ])
    }
}

/// Messenger and Instagram, through the Send API with a page access token.
public struct MessengerSender: ChannelSender {
    let api: PlatformAPI

    public init(base: String, pageAccessToken: String) {
        api = PlatformAPI(platform: .messenger, base: base.trimmingSuffix("/"), bearer: pageAccessToken)
    }

    /// The attachment's URL is signed by the platform: fetched as is.
    public func download(_ media: String) async throws -> Data {
        guard media.hasPrefix("https://") || media.hasPrefix("http://") else {
            throw SendError(platform: api.platform, reason: "the attachment has no URL")
        }
        return Data(try await api.get(media))
    }

    public func send(_ text: String, replyingTo message: Inbound) async throws {
        try await api.post("/\(message.recipient)/messages", [
            "recipient": ["id": .string(message.sender)], "messaging_type": "RESPONSE", "message": ["text": .string(text)],
        ])
    }
}

public struct TelegramSender: ChannelSender {
    let api: PlatformAPI
    let token: String

    /// `base` is the Bot API's root (`https://api.telegram.org`); the token goes in the path.
    public init(base: String, token: String) {
        api = PlatformAPI(platform: .telegram, base: base.trimmingSuffix("/"), bearer: nil)
        self.token = token
    }

    /// `getFile` names the file's path, then the file comes from the Bot API's file root.
    public func download(_ media: String) async throws -> Data {
        let id = media.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? media
        let path = try api.field(["result", "file_path"], of: try await api.get("/bot\(token)/getFile?file_id=\(id)"))
        return Data(try await api.get("/file/bot\(token)/\(path)"))
    }

    public func send(_ text: String, replyingTo message: Inbound) async throws {
        let chat = (try? JSONValue.parse(message.sender)) ?? .string(message.sender)
        try await api.post("/bot\(token)/sendMessage", ["chat_id": chat, "text": .string(text)])
    }
}

public enum ReplySplitter {
    /// `text` in parts of at most `limit` UTF-16 units (the unit the platforms count), cut at the
    /// last paragraph break, line break, sentence end or space that leaves a part at least half
    /// full, else anywhere between characters.
    public static func split(_ text: String, limit: Int) -> [String] {
        precondition(limit >= 2)
        var parts: [String] = []
        var rest = Substring(text.trimmingCharacters(in: .whitespacesAndNewlines))
        while rest.utf16.count > limit {
            var end = rest.startIndex, used = 0
            for index in rest.indices {
                let width = rest[index].utf16.count
                if used + width > limit { break }
                used += width
                end = rest.index(after: index)
            }
            // A single character wider than the limit (a long emoji sequence) goes alone.
            if end == rest.startIndex { end = rest.index(after: end) }
            let window = rest[..<end]
            var cut = end
            for separator in ["\n\n", "\n", ". ", " "] {
                if let range = window.range(of: separator, options: .backwards),
                   window.distance(from: window.startIndex, to: range.upperBound) >= window.count / 2 {
                    cut = range.upperBound
                    break
                }
            }
            parts.append(rest[..<cut].trimmingCharacters(in: .whitespacesAndNewlines))
            rest = rest[cut...].drop { $0.isWhitespace }
        }
        if !rest.isEmpty { parts.append(String(rest)) }
        return parts.filter { !$0.isEmpty }
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        var text = self
        while text.hasSuffix(suffix) { text.removeLast(suffix.count) }
        return text
    }
}
