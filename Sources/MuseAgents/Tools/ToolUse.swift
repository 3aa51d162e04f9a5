// How an assistant uses tools: which ones, whether it must call one, in which format, and how many
// rounds of call → result → continue it may take.
import Foundation
import MuseCore

/// OpenAI's `tool_choice`.
public enum ToolChoice: Sendable, Equatable {
    /// Tools are not offered.
    case none
    /// The model decides between answering and calling, round after round up to the step limit.
    case auto
    /// The first reply must be one or more calls; after their results the model answers.
    case required
    /// The first reply must call this function; after its result the model answers.
    case function(String)

    /// `auto`, `required`, `none`, or else a function's name, as the OpenAI protocol spells them.
    public init(_ text: String) {
        self = switch text {
        case "auto": .auto
        case "required": .required
        case "none": .none
        default: .function(text)
        }
    }
}

public struct ToolSettings: Sendable {
    public var tools: [any Tool]
    public var choice: ToolChoice
    public var format: ToolCallFormat
    /// Rounds of generation at most; the last one answers without tools.
    public var maxSteps: Int
    /// Whether one reply may make several calls (run at once).
    public var parallelCalls: Bool
    /// How long one call may take before it gives an error result.
    public var timeout: Duration
    /// Whether a model whose chat template renders tools gets them through it, in its own call
    /// format (which then replaces `format`).
    public var useModelTemplate: Bool

    public init(tools: [any Tool], choice: ToolChoice = .auto, format: ToolCallFormat = .hermes, maxSteps: Int = 4,
                parallelCalls: Bool = true, timeout: Duration = .seconds(30), useModelTemplate: Bool = true) {
        self.useModelTemplate = useModelTemplate
        self.tools = tools
        self.choice = choice
        self.format = format
        self.maxSteps = max(maxSteps, 1)
        self.parallelCalls = parallelCalls
        self.timeout = timeout
    }

    /// Most calls in one reply.
    static let maxParallelCalls = ToolCallFormat.maxParallelCalls
    /// Longest string argument of a forced call, unless the tool's schema says otherwise.
    public static let maxArgumentStringLength = 200
}

extension ToolCallFormat {
    /// The output format a forced call must have: calls to `tools` only, each with arguments that
    /// satisfy the tool's schema, written in this format. Decoding under it cannot produce anything
    /// that fails to parse.
    public func callConstraint(tools: [any Tool], parallel: Bool) -> OutputFormat {
        let argumentsKey = self == .llama3 ? "parameters" : "arguments"
        let options = tools.map { tool in
            #"{"type": "object", "properties": {"name": {"const": \#(JSONValue.quoted(tool.name))}, "\#(argumentsKey)": \#(tool.parametersSchema)}, "required": ["name", "\#(argumentsKey)"]}"#
        }
        let call = #"{"anyOf": [\#(options.joined(separator: ", "))]}"#
        let most = parallel ? ToolSettings.maxParallelCalls : 1
        let calls: OutputFormat = switch self {
        case .hermes:
            .repeated(.sequence([.literal("<tool_call>\n"), .jsonSchema(call), .literal("\n</tool_call>")]), separator: "\n", max: most)
        case .llama3:
            .repeated(.jsonSchema(call), separator: "\n", max: most)
        case .mistral:
            .sequence([.literal("[TOOL_CALLS]"), .jsonSchema(#"{"type": "array", "items": \#(call), "minItems": 1, "maxItems": \#(most)}"#)])
        }
        return .bounded(calls, maxStringLength: ToolSettings.maxArgumentStringLength)
    }
}

/// The result of one call, as the model will read it.
public struct ToolResult: Sendable, Equatable {
    public var callID: String
    public var name: String
    public var content: String
    public var isError: Bool
    public var seconds: Double
}

/// Runs calls: each at most `timeout`, all at once; a failure of any kind becomes an error result.
enum ToolExecutor {
    static func run(_ calls: [ToolCall], tools: [any Tool], timeout: Duration,
                    emit: @escaping @Sendable (TraceEvent) -> Void = { _ in }) async -> [ToolResult] {
        await withTaskGroup(of: (Int, ToolResult).self) { group in
            for (i, call) in calls.enumerated() {
                group.addTask { (i, await runOne(call, tools: tools, timeout: timeout, emit: emit)) }
            }
            var results = [ToolResult?](repeating: nil, count: calls.count)
            for await (i, result) in group { results[i] = result }
            return results.compactMap { $0 }
        }
    }

    static func runOne(_ call: ToolCall, tools: [any Tool], timeout: Duration,
                       emit: @escaping @Sendable (TraceEvent) -> Void = { _ in }) async -> ToolResult {
        let start = ContinuousClock.now
        func result(_ content: String, error: Bool) -> ToolResult {
            ToolResult(callID: call.id, name: call.name, content: content, isError: error, seconds: (ContinuousClock.now - start).seconds)
        }
        guard let tool = tools.first(where: { $0.name == call.name }) else {
            return result("error: there is no tool named \"\(call.name)\"; the tools are: \(tools.map(\.name).joined(separator: ", "))", error: true)
        }
        do {
            let output = try await withDeadline(tool.timeLimit ?? timeout) {
                if let tracing = tool as? any TracingTool { return try await tracing.call(arguments: call.arguments, emit: emit) }
                return try await tool.call(arguments: call.arguments)
            }
            return result(output, error: false)
        } catch {
            return result("error: \(error)", error: true)
        }
    }
}

public struct ToolTimeout: Error, CustomStringConvertible {
    public var limit: Duration
    public var description: String { "the tool did not answer within \(limit.seconds) seconds" }
}

/// The operation's result, or `ToolTimeout` when it takes longer than `limit`. The operation is
/// cancelled then, and not waited for: a tool that ignores cancellation cannot hang the run.
func withDeadline<T: Sendable>(_ limit: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    let once = ResumeOnce<T>()
    return try await withCheckedThrowingContinuation { continuation in
        once.set(continuation)
        let timer = Task {
            do { try await Task.sleep(for: limit) } catch { return }   // cancelled: the work finished first
            once.resume(.failure(ToolTimeout(limit: limit)))
        }
        let work = Task {
            do { once.resume(.success(try await operation())) } catch { once.resume(.failure(error)) }
            timer.cancel()
        }
        once.whenTimedOut { work.cancel() }
    }
}

/// A continuation resumed by whichever result comes first.
private final class ResumeOnce<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, any Error>?
    private var early: Result<T, any Error>?
    private var done = false
    private var timedOut = false
    /// Called when the deadline wins, to cancel the work.
    private var onTimeout: (@Sendable () -> Void)?

    /// Runs `cancel` when the deadline wins, at once if it already has.
    func whenTimedOut(_ cancel: @escaping @Sendable () -> Void) {
        lock.lock()
        if timedOut {
            lock.unlock()
            cancel()
            return
        }
        onTimeout = cancel
        lock.unlock()
    }

    func set(_ c: CheckedContinuation<T, any Error>) {
        lock.lock()
        if let early {
            lock.unlock()
            c.resume(with: early)
            return
        }
        continuation = c
        lock.unlock()
    }

    func resume(_ result: Result<T, any Error>) {
        lock.lock()
        guard !done else { lock.unlock(); return }
        done = true
        var cancel: (@Sendable () -> Void)?
        if case .failure(let error) = result, error is ToolTimeout {
            timedOut = true
            cancel = onTimeout
        }
        let c = continuation
        continuation = nil
        if c == nil { early = result }
        lock.unlock()
        cancel?()
        c?.resume(with: result)
    }
}
