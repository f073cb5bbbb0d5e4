import Foundation
import XCTest

@testable import Shared

/// The one strict decoder every config file goes through (`StrictDecoder`, via
/// `ConfigLoader.decode`), on types of its own: synthesized conformances only.
final class StrictDecoderTests: XCTestCase {
    struct Outer: Decodable, Equatable {
        var name: String
        var items: [Item]?
        var inner: Inner?
        var free: Free?
        var site: URL?
        enum CodingKeys: String, CodingKey, CaseIterable { case name, items, inner, free, site }
    }

    struct Item: Decodable, Equatable {
        var id: Int
        var tags: [String: Tag]?
        enum CodingKeys: String, CodingKey, CaseIterable { case id, tags }
    }

    struct Tag: Decodable, Equatable {
        var colour: String
        enum CodingKeys: String, CodingKey, CaseIterable { case colour }
    }

    struct Inner: Decodable, Equatable {
        var id: Int?
        enum CodingKeys: String, CodingKey, CaseIterable { case id }
    }

    /// Synthesized coding keys, not `CaseIterable`: not checked.
    struct Free: Decodable, Equatable {
        var a: Int?
    }

    /// A field with a default for a missing key, and text fields.
    struct Defaults: Codable, Equatable {
        @OrDefault var list: [Int]
        @OrDefault var label: String
        var port: String?
        var kind: String?
        enum CodingKeys: String, CodingKey, CaseIterable, TextKeys {
            case list, label, port, kind
            var isText: Bool { self == .port || self == .label }
        }
    }

    func decode<T: Decodable>(_ type: T.Type, _ yaml: String) throws -> T {
        try ConfigLoader.decode(type, from: yaml, source: "test")
    }

    func refusal<T: Decodable>(_ type: T.Type, _ yaml: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try decode(type, yaml)
            XCTFail("accepted: \(yaml)", file: file, line: line)
            return ""
        } catch {
            return "\(error)"
        }
    }

    func testUnknownKeysInListsOfMappingsCarryTheirFullPath() throws {
        XCTAssertEqual(refusal(Outer.self, "name: x\nitems:\n- {id: 1}\n- {id: 2, idd: 3}\n"),
                       "items[1].idd: unknown key \"idd\" (known here: id, tags)")
        // Through a dictionary (its own keys are free) into the mappings it holds.
        XCTAssertEqual(refusal(Outer.self, "name: x\nitems:\n- id: 1\n  tags: {red: {colour: r}, blue: {colour: b, shade: 2}}\n"),
                       "items[0].tags.blue.shade: unknown key \"shade\" (known here: colour)")
        // A list at the top level.
        XCTAssertEqual(refusal([Item].self, "- {id: 1}\n- {id: 2}\n- {id: 3, x: 1}\n"), "[2].x: unknown key \"x\" (known here: id, tags)")
        let ok = try decode(Outer.self, "name: x\nitems:\n- {id: 1, tags: {red: {colour: r}}}\n- {id: 2}\n")
        XCTAssertEqual(ok.items, [Item(id: 1, tags: ["red": Tag(colour: "r")]), Item(id: 2, tags: nil)])
    }

    func testEachMappingIsCheckedAgainstItsOwnKeys() {
        XCTAssertEqual(refusal(Outer.self, "name: x\ninner: {name: y}\n"), "inner.name: unknown key \"name\" (known here: id)")
        XCTAssertEqual(refusal(Outer.self, "name: x\nid: 1\n"), "id: unknown key \"id\" (known here: free, inner, items, name, site)")
        XCTAssertEqual(refusal(Outer.self, "name: x\nitems: [{id: 1, colour: red}]\n"), "items[0].colour: unknown key \"colour\" (known here: id, tags)")
    }

    /// An unknown key is refused before the mapping's other faults, as the hand-written checks did;
    /// those keep the decoder's own paths.
    func testOtherFaultsKeepTheirPaths() {
        XCTAssertEqual(refusal(Outer.self, "name: x\nitems: [{idd: 1}]\n"), "items[0].idd: unknown key \"idd\" (known here: id, tags)")
        XCTAssertEqual(refusal(Outer.self, "name: x\nitems: [{tags: {}}]\n"), "items[0].id: missing required key \"id\"")
        XCTAssertEqual(refusal(Outer.self, "name: x\nitems: [{id: one}]\n"), "items[0].id: wrong type, expected an integer")
        XCTAssertEqual(refusal(Outer.self, "items: []\n"), "name: missing required key \"name\"")
    }

    func testKeysThatAreNotCaseIterableAreNotChecked() throws {
        let free = try decode(Outer.self, "name: x\nfree: {a: 1, b: 2}\n")
        XCTAssertEqual(free.free, Free(a: 1))
    }

    /// Scalars the wrapped decoder reads its own way (a URL is text to Yams) are not taken apart.
    func testScalarsAreReadByTheWrappedDecoder() throws {
        XCTAssertEqual(try decode(Outer.self, "name: 8080\nsite: https://example.com/x\n").site, URL(string: "https://example.com/x"))
        XCTAssertEqual(try decode(Outer.self, "name: 8080\n").name, "8080")
    }

    func testMissingKeysTakeTheirDefaultAndTextKeysTakeAnyScalar() throws {
        XCTAssertEqual(try decode(Defaults.self, "{}\n"), Defaults(list: [], label: "", port: nil, kind: nil))
        XCTAssertEqual(try decode(Defaults.self, "list: ~\nlabel: ~\n"), Defaults(list: [], label: "", port: nil, kind: nil))
        XCTAssertEqual(try decode(Defaults.self, "list: [1]\nlabel: 12\nport: 8080\n"), Defaults(list: [1], label: "12", port: "8080", kind: nil))
        XCTAssertEqual(refusal(Defaults.self, "port: {a: 1}\n"), "port: wrong type, expected text")
        XCTAssertEqual(refusal(Defaults.self, "label: [a]\n"), "label: wrong type, expected text")
        XCTAssertTrue(refusal(Defaults.self, "list: 5\n").hasPrefix("list: wrong type, expected "))
        XCTAssertEqual(refusal(Defaults.self, "lits: []\n"), "lits: unknown key \"lits\" (known here: kind, label, list, port)")
        // Encoded as the bare values, so configs print as before.
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = try encoder.encode(Defaults(list: [1], label: "a", port: nil, kind: nil))
        XCTAssertEqual(String(decoding: json, as: UTF8.self), #"{"label":"a","list":[1]}"#)
    }
}
