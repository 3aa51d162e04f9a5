// Any Encodable value as a JSONValue, its members in the order the value encodes them: a type's
// properties in their declared order, a JSONValue's members in the order it holds. Foundation's
// encoder on Linux orders members at random, which loses a JSON Schema's property order and
// makes the same reply come out as different text.

public enum JSONValueEncoder {
    public static func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        if let json = value as? JSONValue { return json }
        let root = Node()
        try value.encode(to: NodeEncoder(node: root, codingPath: []))
        return root.value
    }
}

/// A value being built: filled in by whichever container an encoder asks for.
private final class Node {
    enum Content {
        case empty
        case value(JSONValue)
        case object([(String, Node)])
        case array([Node])
    }

    var content = Content.empty

    var value: JSONValue {
        switch content {
        case .empty: .object(JSONObject())
        case .value(let value): value
        case .object(let members): .object(JSONObject(members.map { ($0.0, $0.1.value) }))
        case .array(let items): .array(items.map(\.value))
        }
    }

    func member(_ key: String) -> Node {
        var members: [(String, Node)] = []
        if case .object(let existing) = content { members = existing }
        if let found = members.first(where: { $0.0 == key }) { return found.1 }
        let child = Node()
        members.append((key, child))
        content = .object(members)
        return child
    }

    func appended() -> Node {
        var items: [Node] = []
        if case .array(let existing) = content { items = existing }
        let child = Node()
        items.append(child)
        content = .array(items)
        return child
    }

    func set<T: Encodable>(_ value: T, codingPath: [any CodingKey]) throws {
        if let json = value as? JSONValue {
            content = .value(json)
        } else {
            try value.encode(to: NodeEncoder(node: self, codingPath: codingPath))
        }
    }

    /// Every integer type writes its digits (the defaults would come back through `set` forever).
    static func integer<I: BinaryInteger>(_ value: I) -> JSONValue { .number(JSONNumber(checkedText: String(value))) }

    static func number(_ value: Double, codingPath: [any CodingKey]) throws -> JSONValue {
        guard value.isFinite else {
            throw EncodingError.invalidValue(value, .init(codingPath: codingPath, debugDescription: "JSON has no \(value)"))
        }
        return .number(JSONNumber(value))
    }
}

private struct NodeEncoder: Encoder {
    let node: Node
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .object = node.content {} else { node.content = .object([]) }
        return KeyedEncodingContainer(Keyed<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .array = node.content {} else { node.content = .array([]) }
        return Unkeyed(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { Single(node: node, codingPath: codingPath) }
}

private struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: Node
    let codingPath: [any CodingKey]

    mutating func encodeNil(forKey key: Key) throws { node.member(key.stringValue).content = .value(.null) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { node.member(key.stringValue).content = .value(.bool(value)) }
    mutating func encode(_ value: String, forKey key: Key) throws { node.member(key.stringValue).content = .value(.string(value)) }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        node.member(key.stringValue).content = .value(try Node.number(value, codingPath: codingPath + [key]))
    }
    mutating func encode(_ value: Float, forKey key: Key) throws {
        // The float's shortest text, not the double it widens to (0.1, not 0.10000000149011612).
        node.member(key.stringValue).content = .value(try Node.number(Double("\(value)") ?? .nan, codingPath: codingPath + [key]))
    }
    mutating func encode(_ value: Int, forKey key: Key) throws { node.member(key.stringValue).content = .value(Node.integer(value)) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { node.member(key.stringValue).content = .value(Node.integer(value)) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { node.member(key.stringValue).content = .value(Node.integer(value)) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { node.member(key.stringValue).content = .value(Node.integer(value)) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { node.member(key.stringValue).content = .value(Node.integer(value)) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { node.member(key.stringValue).content = .value(Node.integer(value)) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { node.member(key.stringValue).content = .value(Node.integer(value)) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { node.member(key.stringValue).content = .value(Node.integer(value)) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { node.member(key.stringValue).content = .value(Node.integer(value)) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { node.member(key.stringValue).content = .value(Node.integer(value)) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try node.member(key.stringValue).set(value, codingPath: codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        NodeEncoder(node: node.member(key.stringValue), codingPath: codingPath + [key]).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        NodeEncoder(node: node.member(key.stringValue), codingPath: codingPath + [key]).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { NodeEncoder(node: node.member("super"), codingPath: codingPath) }
    mutating func superEncoder(forKey key: Key) -> any Encoder {
        NodeEncoder(node: node.member(key.stringValue), codingPath: codingPath + [key])
    }
}

private struct Unkeyed: UnkeyedEncodingContainer {
    let node: Node
    let codingPath: [any CodingKey]
    var count: Int { if case .array(let items) = node.content { items.count } else { 0 } }

    mutating func encodeNil() throws { node.appended().content = .value(.null) }
    mutating func encode(_ value: Bool) throws { node.appended().content = .value(.bool(value)) }
    mutating func encode(_ value: String) throws { node.appended().content = .value(.string(value)) }
    mutating func encode(_ value: Double) throws { node.appended().content = .value(try Node.number(value, codingPath: codingPath)) }
    mutating func encode(_ value: Float) throws {
        node.appended().content = .value(try Node.number(Double("\(value)") ?? .nan, codingPath: codingPath))
    }
    mutating func encode(_ value: Int) throws { node.appended().content = .value(Node.integer(value)) }
    mutating func encode(_ value: Int8) throws { node.appended().content = .value(Node.integer(value)) }
    mutating func encode(_ value: Int16) throws { node.appended().content = .value(Node.integer(value)) }
    mutating func encode(_ value: Int32) throws { node.appended().content = .value(Node.integer(value)) }
    mutating func encode(_ value: Int64) throws { node.appended().content = .value(Node.integer(value)) }
    mutating func encode(_ value: UInt) throws { node.appended().content = .value(Node.integer(value)) }
    mutating func encode(_ value: UInt8) throws { node.appended().content = .value(Node.integer(value)) }
    mutating func encode(_ value: UInt16) throws { node.appended().content = .value(Node.integer(value)) }
    mutating func encode(_ value: UInt32) throws { node.appended().content = .value(Node.integer(value)) }
    mutating func encode(_ value: UInt64) throws { node.appended().content = .value(Node.integer(value)) }
    mutating func encode<T: Encodable>(_ value: T) throws { try node.appended().set(value, codingPath: codingPath) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        NodeEncoder(node: node.appended(), codingPath: codingPath).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        NodeEncoder(node: node.appended(), codingPath: codingPath).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { NodeEncoder(node: node.appended(), codingPath: codingPath) }
}

private struct Single: SingleValueEncodingContainer {
    let node: Node
    let codingPath: [any CodingKey]

    mutating func encodeNil() throws { node.content = .value(.null) }
    mutating func encode(_ value: Bool) throws { node.content = .value(.bool(value)) }
    mutating func encode(_ value: String) throws { node.content = .value(.string(value)) }
    mutating func encode(_ value: Double) throws { node.content = .value(try Node.number(value, codingPath: codingPath)) }
    mutating func encode(_ value: Float) throws { node.content = .value(try Node.number(Double("\(value)") ?? .nan, codingPath: codingPath)) }
    mutating func encode(_ value: Int) throws { node.content = .value(Node.integer(value)) }
    mutating func encode(_ value: Int8) throws { node.content = .value(Node.integer(value)) }
    mutating func encode(_ value: Int16) throws { node.content = .value(Node.integer(value)) }
    mutating func encode(_ value: Int32) throws { node.content = .value(Node.integer(value)) }
    mutating func encode(_ value: Int64) throws { node.content = .value(Node.integer(value)) }
    mutating func encode(_ value: UInt) throws { node.content = .value(Node.integer(value)) }
    mutating func encode(_ value: UInt8) throws { node.content = .value(Node.integer(value)) }
    mutating func encode(_ value: UInt16) throws { node.content = .value(Node.integer(value)) }
    mutating func encode(_ value: UInt32) throws { node.content = .value(Node.integer(value)) }
    mutating func encode(_ value: UInt64) throws { node.content = .value(Node.integer(value)) }
    mutating func encode<T: Encodable>(_ value: T) throws { try node.set(value, codingPath: codingPath) }
}
