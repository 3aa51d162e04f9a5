// A streamed reply turned into Muse's generation events, one event list per choice: the server's
// reasoning field as `.reasoning`, its content as `.text`, its structured tool calls gathered by
// index into one `.toolCalls` event at the end, then usage and timings. Pure: bytes in, events out;
// the network is elsewhere.
import Foundation
import MuseCore
import MuseOpenAI

struct ReplyStream {
    private var parser: EventStreamParser
    private var assembler: ReplyAssembler
    /// `[DONE]` arrived.
    private(set) var isDone = false

    init(count: Int, start: ContinuousClock.Instant, vocabulary: RemoteVocabulary?, maxLineBytes: Int = 4 << 20) {
        parser = EventStreamParser(maxLineBytes: maxLineBytes)
        assembler = ReplyAssembler(count: count, start: start, vocabulary: vocabulary)
    }

    /// The events of the chunks that `bytes` complete, as (choice index, event).
    mutating func feed(_ bytes: some Sequence<UInt8>, now: ContinuousClock.Instant = .now) throws(RemoteModelError) -> [(Int, GenerationEvent)] {
        guard !isDone else { return [] }
        var out: [(Int, GenerationEvent)] = []
        let events: [ServerSentEvent]
        do { events = try parser.feed(bytes) } catch { throw .eventTooLarge(limit: parser.maxLineBytes) }
        for event in events {
            out += try handle(event, now: now)
            if isDone { break }
        }
        return out
    }

    /// A whole JSON response, from a server that answered without streaming.
    mutating func feedWhole(_ body: [UInt8], now: ContinuousClock.Instant = .now) throws(RemoteModelError) -> [(Int, GenerationEvent)] {
        let out = try handle(ServerSentEvent(data: String(decoding: body, as: UTF8.self)), now: now)
        isDone = true
        return out
    }

    /// The last events of every choice; the stream must have ended properly.
    mutating func finish(url: String, now: ContinuousClock.Instant = .now) throws(RemoteModelError) -> [(Int, GenerationEvent)] {
        var out: [(Int, GenerationEvent)] = []
        if !isDone, let last = parser.finish() { out += try handle(last, now: now) }
        // Without [DONE], a finish reason for every choice still shows that the reply was whole.
        guard isDone || assembler.allFinished else { throw .truncated(url: url) }
        return out + assembler.finish(now: now)
    }

    private mutating func handle(_ event: ServerSentEvent, now: ContinuousClock.Instant) throws(RemoteModelError) -> [(Int, GenerationEvent)] {
        let data = event.data.trimmingCharacters(in: .whitespaces)
        if data == "[DONE]" {
            isDone = true
            return []
        }
        if data.isEmpty { return [] }
        if event.name == "error" {
            // Named error events carry an error object or plain text.
            let error = (try? JSONDecoder().decode(WireChunk.self, from: Data(data.utf8)))?.error
            throw .stream(message: error?.message ?? data, type: error?.type)
        }
        let chunk = try Self.decode(data)
        if let error = chunk.error { throw .stream(message: error.message, type: error.type) }
        return try assembler.consume(chunk, now: now)
    }

    static func decode(_ data: String) throws(RemoteModelError) -> WireChunk {
        do {
            return try JSONDecoder().decode(WireChunk.self, from: Data(data.utf8))
        } catch let error as DecodingError {
            throw .malformedEvent(excerpt: String(data.prefix(200)), reason: Self.reason(error))
        } catch {
            throw .malformedEvent(excerpt: String(data.prefix(200)), reason: "\(error)")
        }
    }

    private static func reason(_ error: DecodingError) -> String {
        return switch error {
        case .dataCorrupted(let context) where context.codingPath.isEmpty: "not valid JSON"
        case .dataCorrupted(let context): "bad value at \(context.jsonPath)"
        case let .typeMismatch(type, context): "\(context.jsonPath) is not \(type)"
        case let .valueNotFound(type, context): "\(context.jsonPath) is null, expected \(type)"
        case let .keyNotFound(key, context): "\(DecodingError.jsonPath(context.codingPath + [key])) is missing"
        @unknown default: "\(error)"
        }
    }
}

/// Per-choice state across chunks.
struct ReplyAssembler {
    private struct Call {
        var id = ""
        var name = ""
        var arguments = ""
    }

    private struct Choice {
        var answered = false
        var calls: [Int: Call] = [:]
        var finish: FinishReason?
        var pieces = 0
        var firstAt: ContinuousClock.Instant?
        var lastAt: ContinuousClock.Instant?
    }

    /// Past this, a call's arguments are refused, like an oversized event line.
    static let maxArgumentBytes = 4 << 20

    private var choices: [Choice]
    private let start: ContinuousClock.Instant
    private let vocabulary: RemoteVocabulary?
    private var usage: WireUsage?

    init(count: Int, start: ContinuousClock.Instant, vocabulary: RemoteVocabulary?) {
        choices = Array(repeating: Choice(), count: max(count, 1))
        self.start = start
        self.vocabulary = vocabulary
    }

    var allFinished: Bool { choices.allSatisfy { $0.finish != nil } }

    mutating func consume(_ chunk: WireChunk, now: ContinuousClock.Instant) throws(RemoteModelError) -> [(Int, GenerationEvent)] {
        if let usage = chunk.usage { self.usage = usage }
        var out: [(Int, GenerationEvent)] = []
        for (position, wire) in (chunk.choices ?? []).enumerated() {
            let index = wire.index ?? position
            // A server that ignored `n` sends fewer choices; one that sends more is read for what was asked.
            guard choices.indices.contains(index) else { continue }
            let delta = wire.delta ?? wire.message ?? WireChunk.Delta()
            var events: [GenerationEvent] = []
            var choice = choices[index]

            if let reasoning = delta.reasoning, !reasoning.isEmpty, !choice.answered {
                events.append(.reasoning(reasoning))
                // Servers stream about one token per piece; a token without id or logprob lets
                // Thinking count the reasoning against its budget and stop the request there.
                if wire.logprobs == nil {
                    events.append(.token(GeneratedToken(id: RemoteVocabulary.unknown, logprob: nil, topLogprobs: [])))
                }
            }
            events += tokens(wire.logprobs)
            if let content = delta.content ?? wire.text, !content.isEmpty {
                choice.answered = true
                events.append(.text(content))
            }
            for (order, piece) in (delta.toolCalls ?? []).enumerated() {
                let slot = piece.index ?? order
                var call = choice.calls[slot] ?? Call()
                if let id = piece.id, call.id.isEmpty { call.id = id }
                if let name = piece.function?.name { call.name += name }
                if let arguments = piece.function?.arguments { call.arguments += arguments }
                guard call.arguments.utf8.count <= Self.maxArgumentBytes else { throw .eventTooLarge(limit: Self.maxArgumentBytes) }
                choice.calls[slot] = call
            }
            if let reason = wire.finishReason { choice.finish = reason == "length" ? .length : .stop }
            if !events.isEmpty || delta.toolCalls != nil {
                choice.pieces += 1
                if choice.firstAt == nil { choice.firstAt = now }
                choice.lastAt = now
            }
            choices[index] = choice
            out += events.map { (index, $0) }
        }
        return out
    }

    /// Each choice's tool calls, if it made any, and `.finished`.
    func finish(now: ContinuousClock.Instant) -> [(Int, GenerationEvent)] {
        var out: [(Int, GenerationEvent)] = []
        let counted = choices.reduce(0) { $0 + $1.pieces }
        var assigned = 0
        for (index, choice) in choices.enumerated() {
            let calls = choice.calls.sorted { $0.key < $1.key }.map(\.value).filter { !$0.name.isEmpty }
            if !calls.isEmpty {
                // Arguments stay the text the server sent; a server that sent none called with `{}`.
                out.append((index, .toolCalls(calls.enumerated().map { order, call in
                    let arguments = call.arguments.trimmingCharacters(in: .whitespacesAndNewlines)
                    return ToolCall(id: call.id.isEmpty ? "call_\(index)_\(order)" : call.id, name: call.name,
                                    arguments: arguments.isEmpty ? "{}" : arguments)
                })))
            }
            // The server counts tokens for the whole request; with several choices each gets a
            // share in proportion to the pieces it streamed (about one per token), the last the rest.
            var completion = choice.pieces
            if let total = usage?.completionTokens {
                if choices.count == 1 {
                    completion = total
                } else if index == choices.count - 1 {
                    completion = max(total - assigned, 0)
                } else {
                    completion = counted > 0 ? total * choice.pieces / counted : total / choices.count
                }
            }
            assigned += completion
            let prompt = usage?.promptTokens ?? 0
            let first = choice.firstAt ?? now, last = choice.lastAt ?? now
            let timings = Timings(promptSeconds: (first - start).seconds, generationSeconds: (last - first).seconds,
                                  promptTokens: prompt, generatedTokens: completion)
            out.append((index, .finished(choice.finish ?? .stop, Usage(promptTokens: prompt, completionTokens: completion), timings)))
        }
        return out
    }

    private func tokens(_ logprobs: WireChunk.Logprobs?) -> [GenerationEvent] {
        guard let logprobs, let vocabulary else { return [] }
        if let content = logprobs.content {
            return content.map { t in
                .token(GeneratedToken(id: vocabulary.id(t.token), logprob: t.logprob.map(Float.init),
                                      topLogprobs: (t.topLogprobs ?? []).map {
                                          TokenLogprob(id: vocabulary.id($0.token), logprob: Float($0.logprob ?? -.infinity))
                                      }))
            }
        }
        guard let texts = logprobs.tokens else { return [] }
        return texts.enumerated().map { i, text in
            let logprob = logprobs.tokenLogprobs.flatMap { i < $0.count ? $0[i] : nil }
            let top = logprobs.topLogprobs.flatMap { i < $0.count ? $0[i] : nil } ?? [:]
            return .token(GeneratedToken(id: vocabulary.id(text), logprob: logprob.map(Float.init),
                                         topLogprobs: top.sorted { $0.value > $1.value }.map {
                                             TokenLogprob(id: vocabulary.id($0.key), logprob: Float($0.value))
                                         }))
        }
    }
}
