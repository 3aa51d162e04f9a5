// What the messaging channels deliver, in one shape for all of them: a person on a platform wrote
// something, under a message id the platform may deliver more than once.
import Foundation

public enum Platform: String, Sendable, CaseIterable, Codable {
    case whatsapp, messenger, instagram, telegram

    /// The longest text one message may carry on the platform; longer replies are split.
    public var messageLimit: Int {
        switch self {
        case .whatsapp: 4096
        case .messenger: 2000
        case .instagram: 1000
        case .telegram: 4096
        }
    }
}

/// One message a person sent.
public struct Inbound: Sendable, Equatable {
    public enum Content: Sendable, Equatable {
        case text(String)
        /// A voice note or audio file, by the platform's reference to it (a WhatsApp media id, a
        /// Messenger attachment URL, a Telegram file id), which its sender downloads.
        case voice(String)
        /// Something the assistant cannot read yet (an image, a sticker…), by its kind.
        case unsupported(String)
    }

    public var platform: Platform
    /// The person as the platform names them: a WhatsApp number, a page-scoped id, a Telegram chat.
    public var sender: String
    /// The platform's id for this message, the same on every redelivery.
    public var messageID: String
    public var content: Content
    /// The account it was sent to (a WhatsApp phone number id, a page or Instagram account id),
    /// which the reply goes out from.
    public var recipient: String

    public init(platform: Platform, sender: String, messageID: String, content: Content, recipient: String) {
        self.platform = platform
        self.sender = sender
        self.messageID = messageID
        self.content = content
        self.recipient = recipient
    }

    /// The person across Muse: platform and sender, e.g. `telegram:42`. Memory is kept under it.
    public var person: String { "\(platform.rawValue):\(sender)" }
}

/// Why a delivery was refused. Nothing of a refused delivery is stored.
public enum DeliveryError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No signature, or no secret token: the sender did not prove who it is (401).
    case unsigned
    /// A signature or secret token that does not match (403).
    case badSignature
    /// Signed, but not a payload of the platform (400).
    case malformed(String)

    public var description: String {
        switch self {
        case .unsigned: "the delivery carries no signature"
        case .badSignature: "the delivery's signature does not match"
        case .malformed(let why): "the delivery cannot be read: \(why)"
        }
    }
}
