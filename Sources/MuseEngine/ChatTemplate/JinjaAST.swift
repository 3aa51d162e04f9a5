// The syntax tree a template parses into; every node keeps its source line for error messages.

struct Expr: Sendable {
    let kind: ExprKind
    let line: Int

    init(_ kind: ExprKind, line: Int) {
        self.kind = kind
        self.line = line
    }
}

indirect enum ExprKind: Sendable {
    case literal(JinjaValue)
    case name(String)
    case list([Expr])
    /// Evaluates to a list: this engine has no tuple type, which only shows when a tuple is printed.
    case tuple([Expr])
    case dict([DictEntry])
    case getattr(Expr, String)
    case getitem(Expr, Expr)
    case slice(start: Expr?, stop: Expr?, step: Expr?)
    case call(Expr, CallArgs)
    case filter(Expr, FilterCall)
    case test(Expr, name: String, args: CallArgs, negated: Bool)
    case negate(Expr)
    case plus(Expr)
    case not(Expr)
    case binary(BinaryOp, Expr, Expr)
    case and(Expr, Expr)
    case or(Expr, Expr)
    case compare(Expr, [Comparison])
    case concat([Expr])
    case conditional(test: Expr, then: Expr, otherwise: Expr?)
}

struct DictEntry: Sendable {
    let key: Expr
    let value: Expr
}

struct Comparison: Sendable {
    let op: CompareOp
    let operand: Expr
}

enum BinaryOp: String, Sendable {
    case add = "+", subtract = "-", multiply = "*", divide = "/", floorDivide = "//", modulo = "%", power = "**"
}

enum CompareOp: String, Sendable {
    case equal = "==", notEqual = "!=", less = "<", lessEqual = "<=", greater = ">", greaterEqual = ">="
    case isIn = "in", notIn = "not in"
}

struct CallArgs: Sendable {
    var positional: [Expr] = []
    var keyword: [KeywordArg] = []
}

struct KeywordArg: Sendable {
    let name: String
    let value: Expr
}

struct FilterCall: Sendable {
    let name: String
    let args: CallArgs
    let line: Int
}

struct Stmt: Sendable {
    let kind: StmtKind
    let line: Int

    init(_ kind: StmtKind, line: Int) {
        self.kind = kind
        self.line = line
    }
}

indirect enum StmtKind: Sendable {
    case text(String)
    case output(Expr)
    case ifChain([Branch], otherwise: [Stmt])
    case forLoop(ForLoop)
    case set(AssignTarget, Expr)
    case setBlock(AssignTarget, filters: [FilterCall], body: Scope)
    case macro(MacroDefinition)
    case callBlock(CallBlock)
    case filterBlock([FilterCall], body: Scope)
    case with([Assignment], body: Scope)
    case loopBreak
    case loopContinue
    /// transformers' `{% generation %}` marks assistant text for masks; rendering is unchanged.
    case generation(Scope)
}

/// A body that jinja2 runs in a scope of its own (loop, macro, call, filter, with, block set).
struct Scope: Sendable {
    var body: [Stmt]
    /// Names this scope assigns before anything else in it mentions them, and that no enclosing
    /// scope knows: jinja2 makes them local from the scope's start, so nested scopes reading them
    /// before the assignment see Undefined rather than the caller's variable. See JinjaScopes.swift.
    var shadowed: [String] = []

    init(_ body: [Stmt]) { self.body = body }
}

struct Branch: Sendable {
    let test: Expr
    let body: [Stmt]
}

struct Assignment: Sendable {
    let target: AssignTarget
    let value: Expr
}

indirect enum AssignTarget: Sendable {
    case name(String)
    case tuple([AssignTarget])
    /// `set ns.attr = ...`: only namespaces accept attribute assignment.
    case attribute(String, String)
}

struct ForLoop: Sendable {
    let target: AssignTarget
    let iterable: Expr
    let condition: Expr?
    var body: Scope
    var otherwise: Scope
}

struct Parameter: Sendable {
    let name: String
    let defaultValue: Expr?
}

struct MacroDefinition: Sendable {
    let name: String
    let parameters: [Parameter]
    var body: Scope
    /// Which of jinja2's implicit macro variables the body mentions, so extra arguments
    /// are accepted only where jinja2 accepts them.
    let usesVarargs: Bool
    let usesKwargs: Bool
}

struct CallBlock: Sendable {
    let parameters: [Parameter]
    let call: Expr
    var body: Scope
}
