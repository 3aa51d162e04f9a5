// Deliveries as the platforms send them: signatures checked over the raw bytes, messages read out
// of every product's shape, and everything else acknowledged without a message.
import Foundation
import MuseCore
import Testing
@testable import MuseChannels

@Suite struct WebhookTests {
    static let body = Array(#"{"object":"whatsapp_business_account","entry":[]}"#.utf8)
    /// Python's hmac.new(b"app-secret", body, hashlib.sha256).hexdigest().
    static let signature = "sha256=d3e4f9da0ce6c71ab3dba55929b8eeeee2455349e534924ead19f98d143e904f"

    @Test func aSignatureIsCheckedOverTheRawBody() throws {
        try MetaWebhook.verify(body: Self.body, signature: Self.signature, appSecret: "app-secret")
        #expect(throws: DeliveryError.unsigned) { try MetaWebhook.verify(body: Self.body, signature: nil, appSecret: "app-secret") }
        #expect(throws: DeliveryError.unsigned) { try MetaWebhook.verify(body: Self.body, signature: "", appSecret: "app-secret") }
        for bad in [Self.signature.uppercased(), "sha1=" + Self.signature.dropFirst(7), String(Self.signature.dropLast()), Self.signature + "00",
                    "sha256=zz" + Self.signature.dropFirst(9)] {
            #expect(throws: DeliveryError.badSignature) { try MetaWebhook.verify(body: Self.body, signature: bad, appSecret: "app-secret") }
        }
        #expect(throws: DeliveryError.badSignature) { try MetaWebhook.verify(body: Self.body, signature: Self.signature, appSecret: "other") }
        // One byte more (a space the JSON would not mind) breaks it.
        #expect(throws: DeliveryError.badSignature) {
            try MetaWebhook.verify(body: Self.body + [0x20], signature: Self.signature, appSecret: "app-secret")
        }
    }

    @Test func theHandshakeAnswersOnlyOurToken() {
        #expect(MetaWebhook.handshake(mode: "subscribe", token: "t0k", challenge: "1158201444", verifyToken: "t0k") == "1158201444")
        #expect(MetaWebhook.handshake(mode: "subscribe", token: "t0K", challenge: "1", verifyToken: "t0k") == nil)
        #expect(MetaWebhook.handshake(mode: "unsubscribe", token: "t0k", challenge: "1", verifyToken: "t0k") == nil)
        #expect(MetaWebhook.handshake(mode: "subscribe", token: nil, challenge: "1", verifyToken: "t0k") == nil)
    }

    @Test func whatsAppTextImagesAndStatuses() throws {
        let body = #"""
            {"object":"whatsapp_business_account","entry":[{"id":"WABA","changes":[{"field":"messages","value":{
             "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111","phone_number_id":"PNID"},
             "contacts":[{"profile":{"name":"Alice"},"wa_id":"16505551234"}],
             "messages":[{"from":"16505551234","id":"wamid.1","timestamp":"1603059201","type":"text","text":{"body":"hello"}},
                         {"from":"16505551234","id":"wamid.2","timestamp":"1603059202","type":"image","image":{"id":"M","mime_type":"image/jpeg"}},
                         {"from":"16505551234","id":"wamid.3","timestamp":"1603059203","type":"audio","audio":{"id":"A","mime_type":"audio/ogg; codecs=opus","voice":true}}]}},
             {"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"phone_number_id":"PNID"},
              "statuses":[{"id":"wamid.0","status":"read"}]}}]}]}
            """#
        let messages = try MetaWebhook.messages(in: Array(body.utf8))
        #expect(messages == [
            Inbound(platform: .whatsapp, sender: "16505551234", messageID: "wamid.1", content: .text("hello"), recipient: "PNID"),
            Inbound(platform: .whatsapp, sender: "16505551234", messageID: "wamid.2", content: .unsupported("image"), recipient: "PNID"),
            Inbound(platform: .whatsapp, sender: "16505551234", messageID: "wamid.3", content: .voice("A"), recipient: "PNID"),
        ])
        #expect(messages[0].person == "whatsapp:16505551234")
    }

    @Test func messengerAndInstagramSkipEchoesAndOtherEvents() throws {
        for (object, platform) in [("page", Platform.messenger), ("instagram", .instagram)] {
            let body = #"""
                {"object":"\#(object)","entry":[{"id":"PAGE","time":1,"messaging":[
                 {"sender":{"id":"PSID"},"recipient":{"id":"PAGE"},"timestamp":1,"message":{"mid":"m_1","text":"hi"}},
                 {"sender":{"id":"PAGE"},"recipient":{"id":"PSID"},"timestamp":2,"message":{"mid":"m_2","text":"echo","is_echo":true}},
                 {"sender":{"id":"PSID"},"recipient":{"id":"PAGE"},"timestamp":3,"message":{"mid":"m_3","attachments":[{"type":"audio","payload":{"url":"u"}}]}},
                 {"sender":{"id":"PSID"},"recipient":{"id":"PAGE"},"timestamp":4,"read":{"watermark":1}}]}]}
                """#
            #expect(try MetaWebhook.messages(in: Array(body.utf8)) == [
                Inbound(platform: platform, sender: "PSID", messageID: "m_1", content: .text("hi"), recipient: "PAGE"),
                Inbound(platform: platform, sender: "PSID", messageID: "m_3", content: .voice("u"), recipient: "PAGE"),
            ])
        }
    }

    @Test(arguments: [
        "", "{", "[]", #"{"object": "whatsapp_business_account"}"#, #"{"object": "sms", "entry": []}"#,
        #"{"object":"whatsapp_business_account","entry":[{"changes":[{"value":{"metadata":{"phone_number_id":"P"},"messages":[{"id":"x"}]}}]}]}"#,
        #"{"object":"page","entry":[{"messaging":[{"sender":{},"message":{"text":"no ids"}}]}]}"#,
    ])
    func malformedDeliveriesAreRefused(body: String) {
        #expect(throws: DeliveryError.self) { try MetaWebhook.messages(in: Array(body.utf8)) }
    }

    @Test func telegramPrivateMessagesOnly() throws {
        func update(_ message: String) throws -> Inbound? {
            try TelegramUpdates.message(in: Array(#"{"update_id": 900, "message": \#(message)}"#.utf8))
        }
        #expect(try update(#"{"message_id": 1, "from": {"id": 42, "is_bot": false}, "chat": {"id": 42, "type": "private"}, "text": "/start"}"#)
            == Inbound(platform: .telegram, sender: "42", messageID: "900", content: .text("/start"), recipient: "bot"))
        #expect(try update(#"{"message_id": 2, "chat": {"id": -100123, "type": "supergroup"}, "text": "hi all"}"#) == nil)
        #expect(try update(#"{"message_id": 3, "chat": {"id": 42, "type": "private"}, "voice": {"file_id": "f"}}"#)?.content == .voice("f"))
        #expect(try update(#"{"message_id": 4, "chat": {"id": 42, "type": "private"}, "photo": [{"file_id": "p"}]}"#)?.content == .unsupported("photo"))
        #expect(try TelegramUpdates.message(in: Array(#"{"update_id": 901, "edited_message": {}}"#.utf8)) == nil)
        #expect(throws: DeliveryError.self) { try TelegramUpdates.message(in: Array(#"{"message": {}}"#.utf8)) }
        #expect(throws: DeliveryError.unsigned) { try TelegramUpdates.verify(secretHeader: nil, secret: "s") }
        #expect(throws: DeliveryError.badSignature) { try TelegramUpdates.verify(secretHeader: "S", secret: "s") }
        try TelegramUpdates.verify(secretHeader: "s", secret: "s")
    }

    @Test func pollingAcknowledgesFromTheNextUpdate() throws {
        let answer = #"{"ok": true, "result": [{"update_id": 7, "message": {"chat": {"id": 5, "type": "private"}, "text": "a"}}, {"update_id": 8, "edited_message": {}}]}"#
        let (messages, next) = try TelegramUpdates.polled(Array(answer.utf8))
        #expect(messages.map(\.messageID) == ["7"] && next == 9)
        #expect(throws: DeliveryError.self) { try TelegramUpdates.polled(Array(#"{"ok": false, "description": "Unauthorized"}"#.utf8)) }
    }

    @Test func configurationComesFromTheEnvironmentWhole() throws {
        #expect(try ChannelConfiguration.fromEnvironment([:]).isEmpty)
        let full = try ChannelConfiguration.fromEnvironment([
            "MUSE_WHATSAPP_VERIFY_TOKEN": "v", "MUSE_WHATSAPP_APP_SECRET": "s", "MUSE_WHATSAPP_ACCESS_TOKEN": "t",
            "MUSE_TELEGRAM_BOT_TOKEN": "1:x", "MUSE_RETENTION_DAYS": "30",
        ])
        #expect(full.whatsapp?.apiBase == ChannelConfiguration.graphAPI && full.messenger == nil)
        #expect(full.telegram?.secretToken == nil && full.retentionDays == 30)
        #expect(throws: ChannelConfigurationError.missing("MUSE_MESSENGER_PAGE_TOKEN", for: "MUSE_MESSENGER")) {
            try ChannelConfiguration.fromEnvironment(["MUSE_MESSENGER_VERIFY_TOKEN": "v", "MUSE_MESSENGER_APP_SECRET": "s"])
        }
        #expect(throws: ChannelConfigurationError.self) {
            try ChannelConfiguration.fromEnvironment(["MUSE_TELEGRAM_BOT_TOKEN": "1:x", "MUSE_TELEGRAM_SECRET_TOKEN": "has space"])
        }
        #expect(throws: ChannelConfigurationError.self) { try ChannelConfiguration.fromEnvironment(["MUSE_RETENTION_DAYS": "0"]) }
    }
}
