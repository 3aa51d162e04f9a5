// Global functions: jinja2's range/namespace/dict and transformers' raise_exception and strftime_now.
import Foundation

extension JinjaInterpreter {
    func callBuiltin(_ builtin: Builtin, _ args: [Value], _ kwargs: [(String, Value)]) throws -> Value {
        switch builtin {
        case .range:
            guard kwargs.isEmpty else { throw JinjaFailure.type("range() takes no keyword arguments") }
            let ints = try args.map { arg -> Int in
                guard case .int(let i)? = Number(try plain(arg)) else {
                    throw JinjaFailure.type("'\(typeName(arg))' object cannot be interpreted as an integer")
                }
                return i
            }
            let (start, stop, step): (Int, Int, Int)
            switch ints.count {
            case 1: (start, stop, step) = (0, ints[0], 1)
            case 2: (start, stop, step) = (ints[0], ints[1], 1)
            case 3: (start, stop, step) = (ints[0], ints[1], ints[2])
            default: throw JinjaFailure.type("range expected 1 to 3 arguments, got \(ints.count)")
            }
            guard step != 0 else { throw JinjaFailure.runtime("range() arg 3 must not be zero") }
            // Count in Double so hostile bounds cannot overflow before the size check.
            let count = max(0, ((Double(stop) - Double(start)) / Double(step)).rounded(.up))
            guard count <= Double(limits.maxCollectionLength) else {
                throw JinjaFailure.limit("range() of more than \(limits.maxCollectionLength) items")
            }
            return .plain(.array(stride(from: start, to: stop, by: step).map { .int($0) }))
        case .namespace:
            let box = NamespaceBox()
            if let first = args.first {
                guard args.count == 1 else { throw JinjaFailure.type("namespace expected at most 1 positional argument") }
                for (key, value) in try pairs(first) {
                    try checkNamespaceName(key)
                    box[key] = value
                    noteLink(value, in: box)
                }
            }
            for (key, value) in kwargs {
                try checkNamespaceName(key)
                box[key] = value
                noteLink(value, in: box)
            }
            return .namespace(box)
        case .dict:
            var object = JinjaObject()
            if let first = args.first {
                guard args.count == 1 else { throw JinjaFailure.type("dict expected at most 1 argument") }
                for (key, value) in try pairs(first) { object[key] = try plain(value) }
            }
            for (key, value) in kwargs { object[key] = try plain(value) }
            return .plain(try checkedDepth(.object(object)))
        case .raiseException:
            let message = try args.first.map { try stringify($0) } ?? ""
            throw JinjaFailure.raised(message)
        case .strftimeNow:
            guard let format = args.first, case .plain(.string(let f)) = format else {
                throw JinjaFailure.type("strftime_now() needs a format string")
            }
            return .plain(.string(try JinjaClock.format(f, at: now)))
        case .cycler, .joiner, .lipsum:
            throw JinjaFailure.unsupported("function '\(builtin.rawValue)'")
        }
    }

    /// The key/value pairs `dict(x)` accepts: a mapping, or a sequence of two-item sequences.
    private func pairs(_ value: Value) throws -> [(String, Value)] {
        switch value {
        case .plain(.object(let o)):
            return o.map { ($0.key, .plain($0.value)) }
        case .namespace(let box):
            return box.keys.map { ($0, box[$0] ?? .undefined) }
        case .plain(.array(let items)):
            return try items.map { item in
                guard case .array(let pair) = item, pair.count == 2, let key = JinjaObject.storageKey(pair[0]) else {
                    throw JinjaFailure.type("dictionary update sequence element has the wrong shape")
                }
                return (key, .plain(pair[1]))
            }
        default:
            throw JinjaFailure.type("'\(typeName(value))' object is not iterable")
        }
    }
}

/// Python's `datetime.now().strftime(fmt)`: C strftime on local time, as CPython calls it.
enum JinjaClock {
    static func format(_ format: String, at date: Date) throws -> String {
        let interval = date.timeIntervalSince1970.rounded(.down)
        guard interval.isFinite, abs(interval) < 1e15 else { throw JinjaFailure.runtime("date out of range") }
        var seconds = time_t(interval)
        var parts = tm()
        guard localtime_r(&seconds, &parts) != nil else { throw JinjaFailure.runtime("cannot read the local time") }
        // strftime's output size is bounded by the format; 64 bytes per input byte is generous.
        let capacity = max(64, format.utf8.count * 64)
        guard capacity <= 1 << 20 else { throw JinjaFailure.limit("strftime format too long") }
        var buffer = [CChar](repeating: 0, count: capacity)
        let written = format.withCString { strftime(&buffer, capacity, $0, &parts) }
        if written == 0 && !format.isEmpty { return "" }
        return String(decoding: buffer[..<written].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
