// Executes statements: scopes, loops, macros, captured output, and the budget that bounds hostile templates.
import Foundation

/// What a template variable can hold at run time: plain data, or one of the objects jinja2
/// exposes that are not data (namespaces, macros, functions, the loop object).
enum Value {
    case plain(JinjaValue)
    case namespace(NamespaceBox)
    case macro(MacroBox)
    case builtin(Builtin)
    /// A method looked up on a value but not yet called, e.g. `message.content.startswith`.
    case method(JinjaValue, String)
    case loop(LoopBox)
    case loopCycle(LoopBox)
    /// markupsafe's `Markup` (from `|safe` and `|escape`): `+` escapes the plain string it meets.
    case markup(String)
    /// What jinja2's lazy filters (select, map, unique, batch, reverse...) return: a generator,
    /// which Python deems true even when it will yield nothing.
    case iterator([JinjaValue])

    static var undefined: Value { .plain(.undefined) }
}

/// `namespace(...)`: the one mutable object templates get, shared by reference like in Python.
final class NamespaceBox {
    var keys: [String] = []
    var values: [String: Value] = [:]

    subscript(name: String) -> Value? {
        get { values[name] }
        set {
            if values.updateValue(newValue ?? .undefined, forKey: name) == nil { keys.append(name) }
        }
    }
}

final class MacroBox {
    let name: String
    let parameters: [Parameter]
    let body: Scope
    let usesVarargs: Bool
    let usesKwargs: Bool
    /// Macros read variables from where they were defined, at call time (closure semantics).
    let closure: Frame

    init(_ definition: MacroDefinition, closure: Frame) {
        name = definition.name
        parameters = definition.parameters
        body = definition.body
        usesVarargs = definition.usesVarargs
        usesKwargs = definition.usesKwargs
        self.closure = closure
    }

    init(caller block: CallBlock, closure: Frame) {
        name = "caller"
        parameters = block.parameters
        body = block.body
        usesVarargs = false
        usesKwargs = false
        self.closure = closure
    }
}

final class LoopBox {
    let items: [JinjaValue]
    let index0: Int

    init(items: [JinjaValue], index0: Int) {
        self.items = items
        self.index0 = index0
    }
}

enum Builtin: String, CaseIterable {
    case range, namespace, dict
    case raiseException = "raise_exception"
    case strftimeNow = "strftime_now"
    /// jinja2 globals no chat template is known to need; defined so calling one names it.
    case cycler, joiner, lipsum
}

/// A scope. jinja2 gives each loop iteration, macro call and `with` block its own; `if` blocks
/// share their parent's.
final class Frame {
    var vars: [String: Value] = [:]
    let parent: Frame?

    init(parent: Frame?) { self.parent = parent }

    func lookup(_ name: String) -> Value? {
        var frame: Frame? = self
        while let current = frame {
            if let v = current.vars[name] { return v }
            frame = current.parent
        }
        return nil
    }

    /// The frame that holds `name`, for in-place mutation such as `list.append`.
    func owner(of name: String) -> Frame? {
        var frame: Frame? = self
        while let current = frame {
            if current.vars[name] != nil { return current }
            frame = current.parent
        }
        return nil
    }
}

enum Flow {
    case normal, breakLoop, continueLoop
}

final class JinjaInterpreter {
    let limits: ChatTemplate.Limits
    let now: Date
    private var output: BoundedText
    private var steps = 0
    private var macroDepth = 0
    /// Line of the statement being executed, for failures raised deep inside helpers.
    var currentLine = 1
    /// Objects that may sit in reference cycles (a frame holding a macro that closes over it, a
    /// namespace holding a namespace or macro), emptied after rendering so nothing leaks.
    private var macroFrames: [Frame] = []
    private var linkedNamespaces: [NamespaceBox] = []

    init(limits: ChatTemplate.Limits, now: Date) {
        self.limits = limits
        self.now = now
        output = BoundedText(limit: limits.maxOutputBytes)
    }

    func render(_ root: Scope, context: [String: JinjaValue]) throws -> String {
        let globals = Frame(parent: nil)
        for builtin in Builtin.allCases { globals.vars[builtin.rawValue] = .builtin(builtin) }
        let frame = Frame(parent: globals)
        for (key, value) in context { frame.vars[key] = .plain(value) }
        for name in root.shadowed { frame.vars[name] = .undefined }
        defer {
            for f in macroFrames { f.vars.removeAll() }
            for box in linkedNamespaces { box.values.removeAll() }
        }
        do {
            _ = try exec(root.body, frame)
        } catch let failure as JinjaFailure {
            throw failure.located(at: currentLine)
        }
        return output.text
    }

    // MARK: Budget

    /// Charges loop iterations, macro calls and value walks against one budget, so neither
    /// long loops nor walks over huge shared structures can run unbounded.
    func charge(_ amount: Int = 1) throws {
        steps += amount
        if steps > limits.maxSteps { throw JinjaFailure.limit("more than \(limits.maxSteps) evaluation steps") }
    }

    func emit(_ text: String) throws {
        try output.append(text)
    }

    /// Runs `body` with output redirected into a fresh buffer and returns what it wrote.
    func capture(_ body: () throws -> Void) throws -> String {
        let saved = output
        output = BoundedText(limit: limits.maxOutputBytes)
        defer { output = saved }
        try body()
        return output.text
    }

    // MARK: Statements

    /// A fresh scope for `scope`, with the names jinja2 treats as local from the start.
    func enter(_ scope: Scope, from parent: Frame) -> Frame {
        let frame = Frame(parent: parent)
        for name in scope.shadowed { frame.vars[name] = .undefined }
        return frame
    }

    func exec(_ stmts: [Stmt], _ frame: Frame) throws -> Flow {
        for stmt in stmts {
            let flow = try exec(stmt, frame)
            if case .normal = flow { continue }
            return flow
        }
        return .normal
    }

    private func exec(_ stmt: Stmt, _ frame: Frame) throws -> Flow {
        currentLine = stmt.line
        switch stmt.kind {
        case .text(let text):
            try emit(text)
        case .output(let expr):
            try emit(try stringify(try eval(expr, frame)))
        case .ifChain(let branches, let otherwise):
            for branch in branches {
                if try truthy(try eval(branch.test, frame)) { return try exec(branch.body, frame) }
            }
            return try exec(otherwise, frame)
        case .forLoop(let loop):
            return try execFor(loop, frame)
        case .set(let target, let expr):
            try assign(target, try eval(expr, frame), in: frame)
        case .setBlock(let target, let filters, let body):
            var value = Value.plain(.string(try capture { _ = try exec(body.body, enter(body, from: frame)) }))
            for filter in filters { value = try applyFilter(filter, to: value, frame) }
            try assign(target, value, in: frame)
        case .macro(let definition):
            frame.vars[definition.name] = .macro(MacroBox(definition, closure: frame))
            if macroFrames.last !== frame { macroFrames.append(frame) }
        case .callBlock(let block):
            try execCallBlock(block, frame)
        case .filterBlock(let filters, let body):
            var value = Value.plain(.string(try capture { _ = try exec(body.body, enter(body, from: frame)) }))
            for filter in filters { value = try applyFilter(filter, to: value, frame) }
            try emit(try stringify(value))
        case .with(let assignments, let body):
            let inner = enter(body, from: frame)
            for assignment in assignments {
                try assign(assignment.target, try eval(assignment.value, frame), in: inner)
            }
            return try exec(body.body, inner)
        case .loopBreak:
            return .breakLoop
        case .loopContinue:
            return .continueLoop
        case .generation(let body):
            // jinja2 compiles this tag to a call block, so its body gets a scope of its own.
            return try exec(body.body, enter(body, from: frame))
        }
        return .normal
    }

    private func execFor(_ loop: ForLoop, _ frame: Frame) throws -> Flow {
        currentLine = loop.iterable.line
        var items = try iterate(try eval(loop.iterable, frame))
        if let condition = loop.condition {
            // jinja2 filters before iterating, so loop.index and loop.length count kept items only.
            var kept: [JinjaValue] = []
            for item in items {
                try charge()
                let scope = Frame(parent: frame)
                try assign(loop.target, .plain(item), in: scope)
                if try truthy(try eval(condition, scope)) { kept.append(item) }
            }
            items = kept
        }
        if items.isEmpty { return try exec(loop.otherwise.body, enter(loop.otherwise, from: frame)) }
        for (index, item) in items.enumerated() {
            try charge()
            let scope = enter(loop.body, from: frame)
            try assign(loop.target, .plain(item), in: scope)
            scope.vars["loop"] = .loop(LoopBox(items: items, index0: index))
            if case .breakLoop = try exec(loop.body.body, scope) { break }
        }
        return .normal
    }

    private func execCallBlock(_ block: CallBlock, _ frame: Frame) throws {
        guard case .call(let calleeExpr, let argExprs) = block.call.kind else { return }
        let callee = try eval(calleeExpr, frame)
        guard case .macro(let macro) = callee else {
            throw JinjaFailure.type("a call block needs a macro, got \(typeName(callee))")
        }
        let (args, kwargs) = try evalArguments(argExprs, frame)
        let caller = MacroBox(caller: block, closure: frame)
        try emit(try stringify(try callMacro(macro, args, kwargs, caller: caller)))
    }

    func callMacro(_ macro: MacroBox, _ args: [Value], _ kwargs: [(String, Value)], caller: MacroBox?) throws -> Value {
        macroDepth += 1
        defer { macroDepth -= 1 }
        guard macroDepth <= limits.maxMacroDepth else {
            throw JinjaFailure.limit("macro calls nested deeper than \(limits.maxMacroDepth)")
        }
        try charge()
        let scope = enter(macro.body, from: macro.closure)
        var remainingKwargs = kwargs
        for (i, parameter) in macro.parameters.enumerated() {
            let keyword = remainingKwargs.firstIndex { $0.0 == parameter.name }
            if i < args.count {
                if keyword != nil { throw JinjaFailure.type("macro '\(macro.name)' got multiple values for argument '\(parameter.name)'") }
                scope.vars[parameter.name] = args[i]
            } else if let keyword {
                scope.vars[parameter.name] = remainingKwargs.remove(at: keyword).1
            } else if let defaultValue = parameter.defaultValue {
                // Defaults are evaluated per call and may refer to earlier parameters.
                scope.vars[parameter.name] = try eval(defaultValue, scope)
            } else {
                scope.vars[parameter.name] = .undefined
            }
        }
        let extra = args.count > macro.parameters.count ? Array(args[macro.parameters.count...]) : []
        if !extra.isEmpty && !macro.usesVarargs {
            throw JinjaFailure.type("macro '\(macro.name)' takes not more than \(macro.parameters.count) argument(s)")
        }
        scope.vars["varargs"] = .plain(.array(try extra.map { try plain($0) }))
        if let unexpected = remainingKwargs.first, !macro.usesKwargs {
            throw JinjaFailure.type("macro '\(macro.name)' takes no keyword argument '\(unexpected.0)'")
        }
        var kwargObject = JinjaObject()
        for (key, value) in remainingKwargs { kwargObject[key] = try plain(value) }
        scope.vars["kwargs"] = .plain(.object(kwargObject))
        if let caller { scope.vars["caller"] = .macro(caller) }
        let savedLine = currentLine
        let text = try capture { _ = try exec(macro.body.body, scope) }
        currentLine = savedLine
        return .plain(.string(text))
    }

    // MARK: Assignment

    func assign(_ target: AssignTarget, _ value: Value, in frame: Frame) throws {
        switch target {
        case .name(let name):
            frame.vars[name] = value
        case .tuple(let targets):
            let items = try iterate(value)
            guard items.count == targets.count else {
                throw JinjaFailure.runtime(items.count > targets.count
                    ? "too many values to unpack (expected \(targets.count))"
                    : "not enough values to unpack (expected \(targets.count), got \(items.count))")
            }
            for (t, item) in zip(targets, items) { try assign(t, .plain(item), in: frame) }
        case .attribute(let name, let attribute):
            guard case .namespace(let box) = frame.lookup(name) ?? .undefined else {
                throw JinjaFailure.type("cannot assign attribute on non-namespace object '\(name)'")
            }
            try checkNamespaceName(attribute)
            box[attribute] = value
            noteLink(value, in: box)
        }
    }

    func noteLink(_ value: Value, in box: NamespaceBox) {
        switch value {
        case .namespace, .macro: linkedNamespaces.append(box)
        default: break
        }
    }

    /// transformers' namespace refuses underscore names, which could reach Python internals.
    func checkNamespaceName(_ name: String) throws {
        if name.hasPrefix("_") {
            throw JinjaFailure.runtime("Chat templates cannot store underscore-prefixed attributes on a namespace, but got '\(name)'.")
        }
    }
}
