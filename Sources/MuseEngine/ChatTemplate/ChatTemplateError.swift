// Errors a chat template can raise, and the fixed limits that protect the stack.

/// Everything that can go wrong while parsing or rendering a chat template.
public enum ChatTemplateError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The template does not parse (unknown tag, bad expression, unclosed block...).
    case syntax(message: String, line: Int, column: Int)
    /// Valid jinja2 that this engine does not implement, e.g. `filter 'xmlattr'`.
    case unsupported(construct: String, line: Int)
    /// The template called `raise_exception(message)`; the message is the template author's.
    case raised(String)
    /// An operation on values of the wrong type, e.g. `'a' + 1`.
    case typeError(message: String, line: Int)
    /// Any other failure while rendering: division by zero, bad macro arguments, security checks.
    case runtime(message: String, line: Int)
    /// A safety limit in `ChatTemplate.Limits` was hit.
    case limitExceeded(message: String, line: Int)

    public var description: String {
        switch self {
        case .syntax(let message, let line, let column):
            return "template syntax error at line \(line), column \(column): \(message)"
        case .unsupported(let construct, let line):
            return "unsupported \(construct) at line \(line)"
        case .raised(let message):
            return message
        case .typeError(let message, let line):
            return "template type error at line \(line): \(message)"
        case .runtime(let message, let line):
            return "template error at line \(line): \(message)"
        case .limitExceeded(let message, let line):
            return "template limit exceeded at line \(line): \(message)"
        }
    }
}

/// A failure raised by a helper that does not know where in the template it was called;
/// the interpreter attaches the line.
enum JinjaFailure: Error {
    case type(String)
    case runtime(String)
    case limit(String)
    case unsupported(String)
    case raised(String)

    func located(at line: Int) -> ChatTemplateError {
        switch self {
        case .type(let m): return .typeError(message: m, line: line)
        case .runtime(let m): return .runtime(message: m, line: line)
        case .limit(let m): return .limitExceeded(message: m, line: line)
        case .unsupported(let m): return .unsupported(construct: m, line: line)
        case .raised(let m): return .raised(m)
        }
    }
}

/// Limits that are not per-render settings: they protect the process stack.
enum JinjaLimits {
    /// Nesting of values built by templates and of JSON written out; Python's own recursion
    /// limit would stop far-deeper structures too.
    static let maxValueDepth = 512
    /// Nesting of expressions and blocks accepted by the parser (Python's own parser gives up
    /// on 200 nested parentheses).
    static let maxParseDepth = 500
}

/// A string that refuses to grow past a byte limit, so output cannot exhaust memory.
struct BoundedText {
    private(set) var text = ""
    let limit: Int

    init(limit: Int) { self.limit = limit }

    mutating func append(_ s: String) throws {
        text += s
        if text.utf8.count > limit { throw JinjaFailure.limit("output larger than \(limit) bytes") }
    }
}
