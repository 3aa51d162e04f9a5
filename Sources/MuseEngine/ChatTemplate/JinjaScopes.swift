// jinja2's static name resolution: which names each scope treats as local from its start.

/// jinja2 decides at compile time, per scope, how every name is bound (idtracking.py). A name a
/// scope assigns before anything at that scope mentions it, and that no enclosing scope knows,
/// starts out Undefined for the whole scope: a loop or macro that reads it before the assignment
/// runs sees Undefined, not the caller's variable of that name. Run-time lookup alone would find
/// the caller's value, so the parser records these names and scopes start with them bound.
enum JinjaScopes {
    /// What one scope knows about names, mirroring jinja2's `Symbols`.
    private final class Symbols {
        /// true: the scope starts with the name Undefined; false: it reads it from outside.
        var local: [String: Bool] = [:]
        let parent: Symbols?

        init(parent: Symbols?) { self.parent = parent }

        func knows(_ name: String) -> Bool { local[name] != nil || parent?.knows(name) == true }

        func load(_ name: String) {
            if !knows(name) { local[name] = false }
        }

        func store(_ name: String) {
            if local[name] == nil { local[name] = !(parent?.knows(name) ?? false) }
        }

        /// Names first met inside an `if` branch are never local-from-the-start, since the
        /// branch may not run (jinja2's branch_update).
        func touchConditionally(_ name: String) {
            if local[name] == nil && !(parent?.knows(name) ?? false) { local[name] = false }
        }

        var shadowed: [String] { local.filter(\.value).map(\.key).sorted() }
    }

    static func annotate(_ body: [Stmt]) -> Scope {
        var root = Scope(body)
        analyze(&root, parameters: [], parent: nil)
        return root
    }

    private static func analyze(_ scope: inout Scope, parameters: [String], parent: Symbols?) {
        let symbols = Symbols(parent: parent)
        for name in parameters { symbols.local[name] = false }
        for stmt in scope.body { visit(stmt, symbols) }
        scope.shadowed = symbols.shadowed
        scope.body = scope.body.map { annotateNested($0, symbols) }
    }

    /// The part of a statement that belongs to the current scope, in jinja2's visiting order.
    private static func visit(_ stmt: Stmt, _ s: Symbols) {
        switch stmt.kind {
        case .text, .loopBreak, .loopContinue, .generation:
            break
        case .output(let e):
            loads(e, s)
        case .ifChain(let branches, let otherwise):
            guard let first = branches.first else { return }
            loads(first.test, s)
            var touched: [String] = []
            for branch in branches.dropFirst() { collect(branch.test, &touched) }
            for branch in branches { for inner in branch.body { touches(inner, &touched) } }
            for inner in otherwise { touches(inner, &touched) }
            for name in touched { s.touchConditionally(name) }
        case .forLoop(let loop):
            loads(loop.iterable, s)
        case .set(let target, let e):
            loads(e, s)
            store(target, s)
        case .setBlock(let target, _, _):
            store(target, s)
        case .macro(let definition):
            s.store(definition.name)
        case .callBlock(let block):
            loads(block.call, s)
        case .filterBlock(let filters, _):
            for filter in filters { args(filter.args, s) }
        case .with(let assignments, _):
            for assignment in assignments { loads(assignment.value, s) }
        }
    }

    /// Every name a statement's current-scope parts mention, for `if` branches.
    private static func touches(_ stmt: Stmt, _ out: inout [String]) {
        let probe = Symbols(parent: nil)
        visit(stmt, probe)
        out += probe.local.keys.sorted()
    }

    private static func store(_ target: AssignTarget, _ s: Symbols) {
        switch target {
        case .name(let n): s.store(n)
        case .tuple(let targets): for t in targets { store(t, s) }
        case .attribute(let namespace, _): s.load(namespace)
        }
    }

    private static func targetNames(_ target: AssignTarget) -> [String] {
        switch target {
        case .name(let n): return [n]
        case .tuple(let targets): return targets.flatMap(targetNames)
        case .attribute: return []
        }
    }

    private static func loads(_ e: Expr, _ s: Symbols) {
        var names: [String] = []
        collect(e, &names)
        for name in names { s.load(name) }
    }

    private static func args(_ a: CallArgs, _ s: Symbols) {
        for e in a.positional { loads(e, s) }
        for k in a.keyword { loads(k.value, s) }
    }

    private static func collect(_ e: Expr, _ out: inout [String]) {
        func all(_ a: CallArgs) {
            for e in a.positional { collect(e, &out) }
            for k in a.keyword { collect(k.value, &out) }
        }
        switch e.kind {
        case .literal: break
        case .name(let n): out.append(n)
        case .list(let items), .tuple(let items), .concat(let items): for item in items { collect(item, &out) }
        case .dict(let entries): for entry in entries { collect(entry.key, &out); collect(entry.value, &out) }
        case .getattr(let base, _), .negate(let base), .plus(let base), .not(let base): collect(base, &out)
        case .getitem(let base, let index): collect(base, &out); collect(index, &out)
        case .slice(let a, let b, let c): for part in [a, b, c] { if let part { collect(part, &out) } }
        case .call(let callee, let a): collect(callee, &out); all(a)
        case .filter(let base, let filter): collect(base, &out); all(filter.args)
        case .test(let base, _, let a, _): collect(base, &out); all(a)
        case .binary(_, let x, let y), .and(let x, let y), .or(let x, let y): collect(x, &out); collect(y, &out)
        case .compare(let first, let rest): collect(first, &out); for c in rest { collect(c.operand, &out) }
        case .conditional(let test, let then, let otherwise):
            collect(then, &out); collect(test, &out)
            if let otherwise { collect(otherwise, &out) }
        }
    }

    /// Rebuilds a statement with its nested scopes analyzed, `s` being the enclosing scope.
    private static func annotateNested(_ stmt: Stmt, _ s: Symbols) -> Stmt {
        switch stmt.kind {
        case .ifChain(let branches, let otherwise):
            let annotated = branches.map { Branch(test: $0.test, body: $0.body.map { annotateNested($0, s) }) }
            return Stmt(.ifChain(annotated, otherwise: otherwise.map { annotateNested($0, s) }), line: stmt.line)
        case .forLoop(var loop):
            analyze(&loop.body, parameters: targetNames(loop.target) + ["loop"], parent: s)
            analyze(&loop.otherwise, parameters: [], parent: s)
            return Stmt(.forLoop(loop), line: stmt.line)
        case .macro(var definition):
            analyze(&definition.body, parameters: definition.parameters.map(\.name) + ["varargs", "kwargs", "caller"], parent: s)
            return Stmt(.macro(definition), line: stmt.line)
        case .callBlock(var block):
            analyze(&block.body, parameters: block.parameters.map(\.name), parent: s)
            return Stmt(.callBlock(block), line: stmt.line)
        case .setBlock(let target, let filters, var body):
            analyze(&body, parameters: [], parent: s)
            return Stmt(.setBlock(target, filters: filters, body: body), line: stmt.line)
        case .filterBlock(let filters, var body):
            analyze(&body, parameters: [], parent: s)
            return Stmt(.filterBlock(filters, body: body), line: stmt.line)
        case .with(let assignments, var body):
            analyze(&body, parameters: assignments.flatMap { targetNames($0.target) }, parent: s)
            return Stmt(.with(assignments, body: body), line: stmt.line)
        case .generation(var body):
            analyze(&body, parameters: [], parent: s)
            return Stmt(.generation(body), line: stmt.line)
        default:
            return stmt
        }
    }
}
