// Where the channels' messages are answered. A delivery is taken at once (the webhook answers
// 200 before any work), each new message is answered in the background, one at a time per person
// and in the order received, and every reply goes back through its platform's API. Commands let a
// person choose the mode and see or erase what is kept of them.
import Foundation
import MuseAgents
import MuseCore

public struct ChannelSettings: Sendable {
    /// Most tokens of a reply.
    public var replyTokens: Int
    /// Earlier turns of the person's conversation the assistant sees.
    public var historyTurns: Int
    /// Messages a person may send a minute; more are not answered (they get one notice).
    public var messagesPerMinute: Int
    /// How long conversation turns are kept (nil: until the person erases them).
    public var retention: TimeInterval?
    /// Messages of everyone together waiting for or getting an answer; past it, a message gets a
    /// notice that the assistant is busy instead of an answer (each person's own limit cannot stop
    /// many people at once).
    public var maxPending: Int

    public init(replyTokens: Int = 512, historyTurns: Int = 20, messagesPerMinute: Int = 12, retention: TimeInterval? = nil,
                maxPending: Int = 128) {
        self.replyTokens = replyTokens
        self.historyTurns = historyTurns
        self.messagesPerMinute = messagesPerMinute
        self.retention = retention
        self.maxPending = maxPending
    }
}

public actor ChannelHub {
    let model: any LanguageModel
    let data: PersonalData
    var store: PersonalStore { data.conversations }
    let senders: [Platform: any ChannelSender]
    let settings: ChannelSettings
    /// Where failures are told (a send that failed, a reply that could not be made); never secrets.
    let report: @Sendable (String) -> Void

    private var queues: [String: (id: Int, task: Task<Void, Never>)] = [:]
    private var nextID = 0
    private var recent: [String: [Date]] = [:]
    private var noticed: Set<String> = []
    /// Messages taken and not yet answered.
    private var pending = 0
    private var lastExpiry = Date.distantPast

    /// Transcribes voice notes; without it they are answered with a sentence.
    let speech: (any SpeechRecognizer)?

    public init(model: any LanguageModel, speech: (any SpeechRecognizer)? = nil, data: PersonalData, senders: [Platform: any ChannelSender],
                settings: ChannelSettings = ChannelSettings(), report: @escaping @Sendable (String) -> Void = { _ in }) {
        self.model = model
        self.speech = speech
        self.data = data
        self.senders = senders
        self.settings = settings
        self.report = report
    }

    /// Takes a delivery's messages and returns how many were new; each new one is answered in the
    /// background. A message id seen before (a redelivery) is skipped.
    @discardableResult
    public func take(_ messages: [Inbound]) throws -> Int {
        expireIfDue()
        var taken = 0
        for message in messages {
            guard try store.claim(message) else { continue }
            taken += 1
            let person = message.person
            let limited = overLimit(person), busy = pending >= settings.maxPending
            let previous = queues[person]?.task
            nextID += 1
            pending += 1
            let id = nextID
            let task = Task {
                await previous?.value
                await self.handle(message, limited: limited, busy: busy)
                self.finished(person, id: id)
            }
            queues[person] = (id, task)
        }
        return taken
    }

    /// Waits until every message taken so far is answered.
    public func idle() async {
        while let (_, entry) = queues.first { await entry.task.value }
    }

    private func finished(_ person: String, id: Int) {
        pending -= 1
        if queues[person]?.id == id { queues[person] = nil }
    }

    /// Counts the message against the person's minute; true once they are over.
    private func overLimit(_ person: String) -> Bool {
        let now = Date()
        if recent.count > 10_000 {
            // Keep the table to the people of the last minute.
            recent = recent.filter { $0.value.contains { now.timeIntervalSince($0) < 60 } }
            noticed.formIntersection(recent.keys)
        }
        var times = (recent[person] ?? []).filter { now.timeIntervalSince($0) < 60 }
        times.append(now)
        recent[person] = times
        if times.count <= settings.messagesPerMinute { noticed.remove(person) }
        return times.count > settings.messagesPerMinute
    }

    private func expireIfDue() {
        guard let retention = settings.retention, Date().timeIntervalSince(lastExpiry) > 3600 else { return }
        lastExpiry = Date()
        do { try store.expire(olderThan: retention) } catch { report("expiring old conversations failed: \(error)") }
    }

    private func handle(_ message: Inbound, limited: Bool, busy: Bool) async {
        let reply: String?
        if busy, !limited {
            reply = "I have too many messages to answer right now. Please write again in a few minutes."
        } else if limited {
            // One notice per burst; the rest go unanswered until the minute has passed.
            reply = noticed.insert(message.person).inserted ? "You are writing faster than I can answer. Please wait a minute." : nil
        } else {
            switch message.content {
            case .unsupported(let kind):
                reply = "I can read text and voice notes only for now, so I cannot take in this \(kind). Please write it out."
            case .voice(let media):
                reply = await answerVoice(media, of: message)
            case .text(let text):
                if let command = Command(text) {
                    reply = perform(command, for: message.person)
                } else {
                    reply = await answer(text, from: message.person)
                }
            }
        }
        guard let reply, let sender = senders[message.platform] else { return }
        for part in ReplySplitter.split(reply, limit: message.platform.messageLimit) {
            do {
                try await sender.send(part, replyingTo: message)
            } catch {
                report("the reply to \(message.person) was not sent: \(error)")
                return
            }
        }
    }

    /// A voice note transcribed, then answered as if typed; the reply quotes what was heard, so
    /// that a mishearing shows.
    private func answerVoice(_ media: String, of message: Inbound) async -> String {
        guard let speech, let sender = senders[message.platform] else {
            return "I cannot listen to voice notes on this server. Please write your message."
        }
        let heard: String
        do {
            let audio = try await sender.download(media)
            heard = try await speech.transcribe(audio: audio, fileName: "voice.ogg", language: nil, translate: false).text
        } catch {
            report("the voice note of \(message.person) was not transcribed: \(error)")
            return "Sorry, I could not listen to that voice note. Please try again, or write it out."
        }
        guard !heard.isEmpty else { return "I could not make out any words in that voice note." }
        return "“\(heard)”\n\n" + (await answer(heard, from: message.person))
    }

    /// The assistant's answer in the person's mode, with their conversation so far; the turn is kept.
    private func answer(_ text: String, from person: String) async -> String {
        do {
            let history = try store.history(person, limit: settings.historyTurns)
            let mode = Mode(name: try store.mode(person)) ?? .instant
            try store.append(person, role: .user, content: text)
            let assistant = Assistant(model: model, maxAnswerTokens: settings.replyTokens)
            var answer = ""
            for try await event in assistant.run(history + [.user(text)], mode: mode) {
                if case .done(let result) = event { answer = result.answer }
            }
            if answer.isEmpty { answer = "…" }
            try store.append(person, role: .assistant, content: answer)
            return answer
        } catch {
            report("no answer for \(person): \(error)")
            return "Sorry, I could not answer that just now. Please try again in a moment."
        }
    }

    private func perform(_ command: Command, for person: String) -> String {
        do {
            switch command {
            case .mode(let kind):
                try store.setMode(person, Mode(kind).name)
                return switch kind {
                case .instant: "Instant mode: I answer at once."
                case .thinking: "Thinking mode: I reason step by step before I answer."
                case .contemplating: "Contemplating mode: several of me reason at once, then I give one answer."
                }
            case .forget:
                let erased = try data.forget(person)
                recent[person] = nil
                noticed.remove(person)
                // Their turns may still sit in the engine's cache of finished conversations.
                model.forgetCachedConversations()
                return "Done: I erased everything I kept about you — our conversation"
                    + (erased.facts > 0 ? " and \(erased.facts) remembered facts." : ".")
            case .export:
                return (try data.export(person) ?? ["person": .string(person), "messages": []]).jsonText
            case .help:
                return Command.helpText
            }
        } catch {
            report("command for \(person) failed: \(error)")
            return "Sorry, that did not work just now. Please try again."
        }
    }
}

/// What a person can ask of the channel itself rather than of the assistant.
enum Command: Equatable {
    case mode(Mode.Kind)
    case forget
    case export
    case help

    /// The command a message is, if it is one: a slash word alone on the message.
    init?(_ text: String) {
        let word = text.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        guard word.hasPrefix("/"), !word.contains(where: \.isWhitespace) else { return nil }
        // Telegram adds the bot's name in groups: /think@muse_bot.
        switch word.dropFirst().prefix(while: { $0 != "@" }) {
        case "instant": self = .mode(.instant)
        case "think", "thinking": self = .mode(.thinking)
        case "contemplate", "contemplating": self = .mode(.contemplating)
        case "forget": self = .forget
        case "export": self = .export
        default: self = .help
        }
    }

    static let helpText = """
        I am Muse, an assistant running on its owner's own machine. Write to me as you would to a person.
        /instant — answer at once (the default)
        /think — reason step by step first
        /contemplate — several lines of reasoning at once, then one answer
        /export — everything I keep about you
        /forget — erase everything I keep about you
        """
}
