// Expression half of the parser: jinja2's precedence climb, lookups, calls, filters and tests.

extension JinjaParser {

    /// Comma-separated expressions; more than one makes a tuple (`{{ a, b }}`, `set a, b = 1, 2`).
    mutating func parseTuple(withCondexpr: Bool = true, endNames: Set<String> = []) throws -> Expr {
        let line = current.line
        var items: [Expr] = []
        var isTuple = false
        while true {
            if !items.isEmpty { try expectOp(",") }
            if current.kind == .variableEnd || current.kind == .blockEnd || isOp(")") { break }
            if case .name(let n) = current.kind, endNames.contains(n) { break }
            items.append(withCondexpr ? try parseExpression() : try parseOr())
            if isOp(",") { isTuple = true } else { break }
        }
        if !isTuple {
            guard let only = items.first else { throw fail("expected an expression, got \(describe(current))") }
            return only
        }
        return Expr(.tuple(items), line: line)
    }

    mutating func parseExpression() throws -> Expr {
        try nested { parser in
            let line = parser.current.line
            var expr = try parser.parseOr()
            var extra = 0
            defer { parser.depth -= extra }
            while parser.skipName("if") {
                try parser.deepen(&extra)
                let test = try parser.parseOr()
                let otherwise: Expr? = try parser.skipName("else") ? parser.parseExpression() : nil
                expr = Expr(.conditional(test: test, then: expr, otherwise: otherwise), line: line)
            }
            return expr
        }
    }

    mutating func parseOr() throws -> Expr {
        var left = try parseAnd()
        var extra = 0
        defer { depth -= extra }
        while isName("or") {
            try deepen(&extra)
            let line = next().line
            left = Expr(.or(left, try parseAnd()), line: line)
        }
        return left
    }

    mutating func parseAnd() throws -> Expr {
        var left = try parseNot()
        var extra = 0
        defer { depth -= extra }
        while isName("and") {
            try deepen(&extra)
            let line = next().line
            left = Expr(.and(left, try parseNot()), line: line)
        }
        return left
    }

    mutating func parseNot() throws -> Expr {
        if isName("not") {
            let line = next().line
            return Expr(.not(try nested { try $0.parseNot() }), line: line)
        }
        return try parseCompare()
    }

    mutating func parseCompare() throws -> Expr {
        let line = current.line
        let expr = try parseMath1()
        var ops: [Comparison] = []
        while true {
            if case .op(let o) = current.kind, let op = CompareOp(rawValue: o), o != "in" {
                _ = next()
                ops.append(Comparison(op: op, operand: try parseMath1()))
            } else if skipName("in") {
                ops.append(Comparison(op: .isIn, operand: try parseMath1()))
            } else if isName("not") && isName("in", peek()) {
                _ = next(); _ = next()
                ops.append(Comparison(op: .notIn, operand: try parseMath1()))
            } else {
                break
            }
        }
        return ops.isEmpty ? expr : Expr(.compare(expr, ops), line: line)
    }

    mutating func parseMath1() throws -> Expr {
        var left = try parseConcat()
        var extra = 0
        defer { depth -= extra }
        while isOp("+") || isOp("-") {
            try deepen(&extra)
            let token = next()
            left = Expr(.binary(isOp("+", token) ? .add : .subtract, left, try parseConcat()), line: token.line)
        }
        return left
    }

    mutating func parseConcat() throws -> Expr {
        let line = current.line
        var parts = [try parseMath2()]
        while skipOp("~") { parts.append(try parseMath2()) }
        return parts.count == 1 ? parts[0] : Expr(.concat(parts), line: line)
    }

    mutating func parseMath2() throws -> Expr {
        var left = try parsePow()
        var extra = 0
        defer { depth -= extra }
        while true {
            guard case .op(let o) = current.kind, ["*", "/", "//", "%"].contains(o), let op = BinaryOp(rawValue: o) else { break }
            try deepen(&extra)
            let line = next().line
            left = Expr(.binary(op, left, try parsePow()), line: line)
        }
        return left
    }

    mutating func parsePow() throws -> Expr {
        var left = try parseUnary(withFilter: true)
        var extra = 0
        defer { depth -= extra }
        while isOp("**") {
            try deepen(&extra)
            let line = next().line
            left = Expr(.binary(.power, left, try parseUnary(withFilter: true)), line: line)
        }
        return left
    }

    mutating func parseUnary(withFilter: Bool) throws -> Expr {
        try nested { parser in
            let token = parser.current
            var node: Expr
            if parser.skipOp("-") {
                node = Expr(.negate(try parser.parseUnary(withFilter: false)), line: token.line)
            } else if parser.skipOp("+") {
                node = Expr(.plus(try parser.parseUnary(withFilter: false)), line: token.line)
            } else {
                node = try parser.parsePrimary()
            }
            node = try parser.parsePostfix(node)
            if withFilter { node = try parser.parseFilterExpr(node) }
            return node
        }
    }

    mutating func parsePrimary() throws -> Expr {
        let token = current
        let line = token.line
        switch token.kind {
        case .name(let n):
            _ = next()
            switch n {
            case "true", "True": return Expr(.literal(.bool(true)), line: line)
            case "false", "False": return Expr(.literal(.bool(false)), line: line)
            case "none", "None": return Expr(.literal(.none), line: line)
            default:
                namesSeen.insert(n)
                return Expr(.name(n), line: line)
            }
        case .string(var s):
            _ = next()
            // Adjacent string literals concatenate, as in Python.
            while case .string(let more) = current.kind { s += more; _ = next() }
            return Expr(.literal(.string(s)), line: line)
        case .integer(let i):
            _ = next()
            return Expr(.literal(.int(i)), line: line)
        case .float(let d):
            _ = next()
            return Expr(.literal(.double(d)), line: line)
        case .op("("):
            _ = next()
            if skipOp(")") { return Expr(.tuple([]), line: line) }
            let inner = try parseTuple()
            try expectOp(")")
            return inner
        case .op("["):
            _ = next()
            var items: [Expr] = []
            while !isOp("]") {
                if !items.isEmpty { try expectOp(",") }
                if isOp("]") { break }
                items.append(try parseExpression())
            }
            try expectOp("]")
            return Expr(.list(items), line: line)
        case .op("{"):
            _ = next()
            var entries: [DictEntry] = []
            while !isOp("}") {
                if !entries.isEmpty { try expectOp(",") }
                if isOp("}") { break }
                let key = try parseExpression()
                try expectOp(":")
                entries.append(DictEntry(key: key, value: try parseExpression()))
            }
            try expectOp("}")
            return Expr(.dict(entries), line: line)
        default:
            throw fail("unexpected \(describe(token))")
        }
    }

    mutating func parsePostfix(_ start: Expr) throws -> Expr {
        var node = start
        var extra = 0
        defer { depth -= extra }
        while true {
            if isOp(".") || isOp("[") || isOp("(") { try deepen(&extra) }
            if isOp(".") || isOp("[") {
                node = try parseSubscript(node)
            } else if isOp("(") {
                let line = current.line
                node = Expr(.call(node, try parseCallArgs()), line: line)
            } else {
                return node
            }
        }
    }

    mutating func parseFilterExpr(_ start: Expr) throws -> Expr {
        var node = start
        var extra = 0
        defer { depth -= extra }
        while true {
            if isOp("|") {
                for filter in try parseFilterChain(inline: false) {
                    try deepen(&extra)
                    node = Expr(.filter(node, filter), line: filter.line)
                }
            } else if isName("is") {
                try deepen(&extra)
                node = try parseTest(node)
            } else if isOp("(") {
                try deepen(&extra)
                let line = current.line
                node = Expr(.call(node, try parseCallArgs()), line: line)
            } else {
                return node
            }
        }
    }

    mutating func parseSubscript(_ node: Expr) throws -> Expr {
        let token = next()
        if isOp(".", token) {
            let attr = current
            _ = next()
            switch attr.kind {
            case .name(let n): return Expr(.getattr(node, n), line: token.line)
            case .integer(let i): return Expr(.getitem(node, Expr(.literal(.int(i)), line: attr.line)), line: token.line)
            default: throw fail("expected name or number", attr)
            }
        }
        var args: [Expr] = []
        while !isOp("]") {
            if !args.isEmpty { try expectOp(",") }
            args.append(try parseSubscribed())
        }
        try expectOp("]")
        guard !args.isEmpty else { throw fail("expected subscript expression", token) }
        let arg = args.count == 1 ? args[0] : Expr(.tuple(args), line: token.line)
        return Expr(.getitem(node, arg), line: token.line)
    }

    mutating func parseSubscribed() throws -> Expr {
        let line = current.line
        var start: Expr?
        if !isOp(":") {
            let expr = try parseExpression()
            guard isOp(":") else { return expr }
            start = expr
        }
        _ = next() // ':'
        var stop: Expr?
        var step: Expr?
        if !isOp(":") && !isOp("]") && !isOp(",") { stop = try parseExpression() }
        if skipOp(":") && !isOp("]") && !isOp(",") { step = try parseExpression() }
        return Expr(.slice(start: start, stop: stop, step: step), line: line)
    }

    mutating func parseCallArgs() throws -> CallArgs {
        let open = current
        try expectOp("(")
        var args = CallArgs()
        while !isOp(")") {
            if !args.positional.isEmpty || !args.keyword.isEmpty {
                try expectOp(",")
                if isOp(")") { break }
            }
            if isOp("*") || isOp("**") { throw ChatTemplateError.unsupported(construct: "'*args'/'**kwargs' call syntax", line: current.line) }
            if case .name(let key) = current.kind, isOp("=", peek()) {
                _ = next(); _ = next()
                args.keyword.append(KeywordArg(name: key, value: try parseExpression()))
            } else {
                guard args.keyword.isEmpty else { throw fail("invalid syntax for function call expression", open) }
                args.positional.append(try parseExpression())
            }
        }
        try expectOp(")")
        return args
    }

    /// `|name`, `|name(args)`, repeated; `inline` starts without the pipe (filter blocks).
    mutating func parseFilterChain(inline: Bool) throws -> [FilterCall] {
        var filters: [FilterCall] = []
        var first = inline
        while first || isOp("|") {
            if !first { _ = next() }
            first = false
            let token = current
            var name = try expectName()
            while skipOp(".") { name += "." + (try expectName()) }
            let args = try isOp("(") ? parseCallArgs() : CallArgs()
            filterNames.append((name, token.line))
            filters.append(FilterCall(name: name, args: args, line: token.line))
        }
        return filters
    }

    mutating func parseTest(_ node: Expr) throws -> Expr {
        let token = next() // 'is'
        let negated = skipName("not")
        var name = try expectName()
        while skipOp(".") { name += "." + (try expectName()) }
        var args = CallArgs()
        if isOp("(") {
            args = try parseCallArgs()
        } else if startsBareTestArgument() {
            if isName("is") { throw fail("You cannot chain multiple tests with is") }
            args.positional = [try parsePostfix(try parsePrimary())]
        }
        testNames.append((name, token.line))
        return Expr(.test(node, name: name, args: args, negated: negated), line: token.line)
    }

    /// jinja2 lets a test take one argument without parentheses: `x is divisibleby 3`.
    func startsBareTestArgument() -> Bool {
        switch current.kind {
        case .name(let n): return !["else", "or", "and"].contains(n)
        case .string, .integer, .float, .op("("), .op("["), .op("{"): return true
        default: return false
        }
    }
}
