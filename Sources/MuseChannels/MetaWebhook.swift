// Meta's webhooks, shared by WhatsApp, Messenger and Instagram: the subscription handshake, the
// `X-Hub-Signature-256` check over the raw body, and the messages in a delivery.
import Crypto
import Foundation
import MuseCore

public enum MetaWebhook {
    /// The answer to Meta's subscription check: the challenge when the mode is `subscribe` and the
    /// token is ours, else nil (403).
    public static func handshake(mode: String?, token: String?, challenge: String?, verifyToken: String) -> String? {
        guard mode == "subscribe", let token, let challenge, equalInConstantTime(token, verifyToken) else { return nil }
        return challenge
    }

    /// Checks `X-Hub-Signature-256: sha256=<hex>`, the HMAC-SHA256 of the raw body under the app
    /// secret, in constant time.
    public static func verify(body: [UInt8], signature header: String?, appSecret: String) throws(DeliveryError) {
        guard let header, !header.isEmpty else { throw .unsigned }
        guard header.hasPrefix("sha256="), let mac = hexBytes(header.dropFirst(7)), mac.count == 32 else { throw .badSignature }
        let key = SymmetricKey(data: Array(appSecret.utf8))
        guard HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: body, using: key) else { throw .badSignature }
    }

    /// The messages people sent in a delivery, of any of the three products. Status updates,
    /// echoes of our own sends and other events carry none.
    public static func messages(in body: [UInt8]) throws(DeliveryError) -> [Inbound] {
        let root: JSONValue
        do { root = try JSONValue.parse(body) } catch { throw .malformed("\(error)") }
        guard case .string(let object)? = root["object"], case .array(let entries)? = root["entry"] else {
            throw .malformed(#"expected {"object": ..., "entry": [...]}"#)
        }
        let platform: Platform
        switch object {
        case "whatsapp_business_account": platform = .whatsapp
        case "page": platform = .messenger
        case "instagram": platform = .instagram
        default: throw .malformed("unknown object \"\(object)\"")
        }
        var found: [Inbound] = []
        for entry in entries {
            found += platform == .whatsapp ? try whatsApp(entry) : try messaging(entry, platform: platform)
        }
        return found
    }

    private static func whatsApp(_ entry: JSONValue) throws(DeliveryError) -> [Inbound] {
        guard case .array(let changes)? = entry["changes"] else { return [] }
        var found: [Inbound] = []
        for change in changes {
            let value = change["value"]
            guard case .string(let phoneNumberID)? = value?["metadata"]?["phone_number_id"] else { continue }
            guard case .array(let messages)? = value?["messages"] else { continue }   // statuses and the like
            for message in messages {
                guard case .string(let from)? = message["from"], case .string(let id)? = message["id"],
                      case .string(let type)? = message["type"] else {
                    throw .malformed("a WhatsApp message needs from, id and type")
                }
                let content: Inbound.Content
                if type == "text", case .string(let body)? = message["text"]?["body"] {
                    content = .text(body)
                } else if type == "audio", case .string(let media)? = message["audio"]?["id"] {
                    content = .voice(media)
                } else {
                    content = .unsupported(type)
                }
                found.append(Inbound(platform: .whatsapp, sender: from, messageID: id, content: content, recipient: phoneNumberID))
            }
        }
        return found
    }

    private static func messaging(_ entry: JSONValue, platform: Platform) throws(DeliveryError) -> [Inbound] {
        guard case .array(let events)? = entry["messaging"] else { return [] }
        var found: [Inbound] = []
        for event in events {
            guard let message = event["message"] else { continue }   // deliveries, reads, postbacks
            if message["is_echo"] == .bool(true) { continue }          // our own sends
            guard case .string(let sender)? = event["sender"]?["id"], case .string(let recipient)? = event["recipient"]?["id"],
                  case .string(let id)? = message["mid"] else {
                throw .malformed("a \(platform.rawValue) message needs sender.id, recipient.id and message.mid")
            }
            let content: Inbound.Content
            if case .string(let text)? = message["text"] {
                content = .text(text)
            } else if message["attachments"]?[0]?["type"] == .string("audio"),
                      case .string(let url)? = message["attachments"]?[0]?["payload"]?["url"] {
                content = .voice(url)
            } else if case .string(let kind)? = message["attachments"]?[0]?["type"] {
                content = .unsupported(kind)
            } else {
                content = .unsupported("message")
            }
            found.append(Inbound(platform: platform, sender: sender, messageID: id, content: content, recipient: recipient))
        }
        return found
    }

    static func hexBytes(_ text: Substring) -> [UInt8]? {
        guard text.count.isMultiple(of: 2) else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count / 2)
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }
}

/// Whether two secrets are equal, in time that depends on their lengths only.
func equalInConstantTime(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    var difference = UInt8(x.count == y.count ? 0 : 1)
    for i in 0..<max(x.count, y.count) {
        difference |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
    }
    return difference == 0
}
