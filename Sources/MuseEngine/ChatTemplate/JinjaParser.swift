// Statement half of the parser: tokens to the syntax tree, tags and blocks, following jinja2's grammar.

struct JinjaParser {
    let tokens: [Token]
    var index = 0
    var depth = 0
    var loopDepth = 0
    /// Open blocks, innermost last, so an unexpected end of template names the block left open.
    var openBlocks: [(tag: String, line: Int, column: Int)] = []
    var namesSeen: Set<String> = []
    var filterNames: [(String, Int)] = []
    var testNames: [(String, Int)] = []

    init(tokens: [Token]) { self.tokens = tokens }

    static func parse(_ source: String) throws -> (root: Scope, filters: [(String, Int)], tests: [(String, Int)]) {
        var parser = JinjaParser(tokens: try JinjaLexer.tokenize(source))
        let (body, _) = try parser.subparse(endTags: [])
        return (JinjaScopes.annotate(body), parser.filterNames, parser.testNames)
    }

    // MARK: Token stream

    var current: Token { tokens[min(index, tokens.count - 1)] }

    func peek(_ offset: Int = 1) -> Token { tokens[min(index + offset, tokens.count - 1)] }

    mutating func next() -> Token {
        let t = current
        if index < tokens.count - 1 { index += 1 }
        return t
    }

    func fail(_ message: String, _ token: Token? = nil) -> ChatTemplateError {
        let t = token ?? current
        return .syntax(message: message, line: t.line, column: t.column)
    }

    func isName(_ name: String, _ token: Token? = nil) -> Bool {
        if case .name(let n) = (token ?? current).kind { return n == name }
        return false
    }

    func isOp(_ op: String, _ token: Token? = nil) -> Bool {
        if case .op(let o) = (token ?? current).kind { return o == op }
        return false
    }

    mutating func skipOp(_ op: String) -> Bool {
        if isOp(op) { _ = next(); return true }
        return false
    }

    mutating func skipName(_ name: String) -> Bool {
        if isName(name) { _ = next(); return true }
        return false
    }

    mutating func expectOp(_ op: String) throws {
        guard skipOp(op) else { throw fail("expected '\(op)', got \(describe(current))") }
    }

    mutating func expectName() throws -> String {
        guard case .name(let n) = current.kind else { throw fail("expected a name, got \(describe(current))") }
        _ = next()
        return n
    }

    mutating func expectBlockEnd() throws {
        guard current.kind == .blockEnd else { throw fail("expected end of statement block, got \(describe(current))") }
        _ = next()
    }

    func describe(_ token: Token) -> String {
        switch token.kind {
        case .text: return "template data"
        case .variableBegin: return "'{{'"
        case .variableEnd: return "'}}'"
        case .blockBegin: return "'{%'"
        case .blockEnd: return "'%}'"
        case .name(let n): return "'\(n)'"
        case .string: return "string literal"
        case .integer(let i): return "'\(i)'"
        case .float(let d): return "'\(d)'"
        case .op(let o): return "'\(o)'"
        case .eof: return "end of template"
        }
    }

    /// Left-nested chains (`a + b + c`, `x.y.z`, `v|f|g`) deepen the tree without recursing
    /// in the parser; counting them keeps evaluation and deallocation of the tree shallow too.
    mutating func deepen(_ extra: inout Int) throws {
        depth += 1
        extra += 1
        guard depth <= JinjaLimits.maxParseDepth else { throw fail("template nested too deeply") }
    }

    mutating func nested<T>(_ body: (inout JinjaParser) throws -> T) throws -> T {
        depth += 1
        defer { depth -= 1 }
        guard depth <= JinjaLimits.maxParseDepth else { throw fail("template nested too deeply") }
        return try body(&self)
    }

    // MARK: Statements

    /// Parses until one of `endTags` opens a block; returns the body and the tag found.
    mutating func subparse(endTags: Set<String>) throws -> ([Stmt], String?) {
        var body: [Stmt] = []
        while true {
            let token = current
            switch token.kind {
            case .eof:
                if endTags.isEmpty { return (body, nil) }
                let expected = endTags.sorted().map { "'\($0)'" }.joined(separator: " or ")
                if let open = openBlocks.last {
                    throw ChatTemplateError.syntax(
                        message: "unexpected end of template: '\(open.tag)' block opened here is never closed (expected \(expected))",
                        line: open.line, column: open.column)
                }
                throw fail("unexpected end of template, expected \(expected)")
            case .text(let text):
                _ = next()
                body.append(Stmt(.text(text), line: token.line))
            case .variableBegin:
                _ = next()
                let expr = try parseTuple()
                guard current.kind == .variableEnd else { throw fail("expected '}}', got \(describe(current))") }
                _ = next()
                body.append(Stmt(.output(expr), line: token.line))
            case .blockBegin:
                _ = next()
                if case .name(let tag) = current.kind, endTags.contains(tag) { return (body, tag) }
                body.append(try nested { try $0.parseStatement(blockToken: token) })
                try expectBlockEnd()
            default:
                throw fail("unexpected \(describe(token))")
            }
        }
    }

    /// jinja2's parse_statements: optional ':' then the block end, then the body.
    mutating func parseBody(_ tag: String, _ token: Token, until endTags: Set<String>) throws -> ([Stmt], String) {
        _ = skipOp(":")
        try expectBlockEnd()
        openBlocks.append((tag, token.line, token.column))
        defer { openBlocks.removeLast() }
        let (body, end) = try subparse(endTags: endTags)
        _ = next() // the end tag's name
        return (body, end ?? "")
    }

    mutating func parseStatement(blockToken: Token) throws -> Stmt {
        let token = current
        guard case .name(let tag) = token.kind else { throw fail("tag name expected") }
        _ = next()
        let line = token.line
        switch tag {
        case "if":
            var branches: [Branch] = []
            var test = try parseTuple(withCondexpr: false)
            while true {
                let (body, end) = try parseBody("if", blockToken, until: ["elif", "else", "endif"])
                branches.append(Branch(test: test, body: body))
                if end == "elif" {
                    test = try parseTuple(withCondexpr: false)
                    continue
                }
                if end == "else" {
                    let (otherwise, _) = try parseBody("if", blockToken, until: ["endif"])
                    return Stmt(.ifChain(branches, otherwise: otherwise), line: line)
                }
                return Stmt(.ifChain(branches, otherwise: []), line: line)
            }
        case "for":
            let target = try parseAssignTarget(endNames: ["in"])
            guard skipName("in") else { throw fail("expected 'in', got \(describe(current))") }
            let iterable = try parseTuple(withCondexpr: false, endNames: ["recursive"])
            let condition: Expr? = try skipName("if") ? parseExpression() : nil
            if isName("recursive") { throw ChatTemplateError.unsupported(construct: "recursive for loop", line: line) }
            loopDepth += 1
            let (body, end) = try parseBody("for", blockToken, until: ["endfor", "else"])
            loopDepth -= 1
            var otherwise: [Stmt] = []
            if end == "else" { (otherwise, _) = try parseBody("for", blockToken, until: ["endfor"]) }
            return Stmt(.forLoop(ForLoop(target: target, iterable: iterable, condition: condition, body: Scope(body),
                                         otherwise: Scope(otherwise))), line: line)
        case "set":
            let target = try parseAssignTarget(allowNamespace: true)
            if skipOp("=") { return Stmt(.set(target, try parseTuple()), line: line) }
            let filters = try parseFilterChain(inline: false)
            let (body, _) = try parseBody("set", blockToken, until: ["endset"])
            return Stmt(.setBlock(target, filters: filters, body: Scope(body)), line: line)
        case "macro":
            let name = try expectName()
            let parameters = try parseSignature()
            let (savedLoops, savedNames) = (loopDepth, namesSeen)
            (loopDepth, namesSeen) = (0, [])
            let (body, _) = try parseBody("macro", blockToken, until: ["endmacro"])
            let definition = MacroDefinition(name: name, parameters: parameters, body: Scope(body),
                                             usesVarargs: namesSeen.contains("varargs"),
                                             usesKwargs: namesSeen.contains("kwargs"))
            (loopDepth, namesSeen) = (savedLoops, savedNames.union(namesSeen))
            return Stmt(.macro(definition), line: line)
        case "call":
            let parameters = try isOp("(") ? parseSignature() : []
            let call = try parseExpression()
            guard case .call = call.kind else { throw fail("expected call", token) }
            let savedLoops = loopDepth
            loopDepth = 0
            let (body, _) = try parseBody("call", blockToken, until: ["endcall"])
            loopDepth = savedLoops
            return Stmt(.callBlock(CallBlock(parameters: parameters, call: call, body: Scope(body))), line: line)
        case "filter":
            let filters = try parseFilterChain(inline: true)
            let (body, _) = try parseBody("filter", blockToken, until: ["endfilter"])
            return Stmt(.filterBlock(filters, body: Scope(body)), line: line)
        case "with":
            var assignments: [Assignment] = []
            while current.kind != .blockEnd {
                if !assignments.isEmpty { try expectOp(",") }
                let target = try parseAssignTarget()
                try expectOp("=")
                assignments.append(Assignment(target: target, value: try parseExpression()))
            }
            let (body, _) = try parseBody("with", blockToken, until: ["endwith"])
            return Stmt(.with(assignments, body: Scope(body)), line: line)
        case "print":
            return Stmt(.output(try parseTuple()), line: line)
        case "break", "continue":
            guard loopDepth > 0 else { throw fail("'\(tag)' outside of a loop", token) }
            return Stmt(tag == "break" ? .loopBreak : .loopContinue, line: line)
        case "generation":
            let (body, _) = try parseBody("generation", blockToken, until: ["endgeneration"])
            return Stmt(.generation(Scope(body)), line: line)
        case "include", "import", "from", "extends", "block", "autoescape":
            throw ChatTemplateError.unsupported(construct: "tag '\(tag)'", line: line)
        default:
            var message = "unknown tag '\(tag)'"
            if let open = openBlocks.last { message += " (the innermost open block is '\(open.tag)' from line \(open.line))" }
            throw fail(message, token)
        }
    }

    mutating func parseSignature() throws -> [Parameter] {
        try expectOp("(")
        var parameters: [Parameter] = []
        while !isOp(")") {
            if !parameters.isEmpty { try expectOp(",") }
            let name = try expectName()
            if skipOp("=") {
                parameters.append(Parameter(name: name, defaultValue: try parseExpression()))
            } else if parameters.contains(where: { $0.defaultValue != nil }) {
                throw fail("non-default argument follows default argument")
            } else {
                parameters.append(Parameter(name: name, defaultValue: nil))
            }
        }
        try expectOp(")")
        return parameters
    }

    /// Targets of `for` and `set`: names, tuples of names, or `ns.attr` when `allowNamespace`.
    mutating func parseAssignTarget(endNames: Set<String> = [], allowNamespace: Bool = false) throws -> AssignTarget {
        var targets: [AssignTarget] = []
        var isTuple = false
        while true {
            if !targets.isEmpty { try expectOp(",") }
            if case .name(let n) = current.kind, endNames.contains(n) { break }
            if current.kind == .blockEnd || isOp("=") || isOp("|") { break }
            targets.append(try parseSingleTarget(allowNamespace: allowNamespace))
            if isOp(",") { isTuple = true } else { break }
        }
        guard let first = targets.first else { throw fail("expected an assignment target, got \(describe(current))") }
        return isTuple ? .tuple(targets) : first
    }

    mutating func parseSingleTarget(allowNamespace: Bool) throws -> AssignTarget {
        if skipOp("(") {
            let inner = try parseAssignTarget()
            try expectOp(")")
            return inner
        }
        let token = current
        let name = try expectName()
        if ["true", "false", "none", "True", "False", "None"].contains(name) { throw fail("can't assign to a constant", token) }
        if allowNamespace && skipOp(".") { return .attribute(name, try expectName()) }
        return .name(name)
    }
}
