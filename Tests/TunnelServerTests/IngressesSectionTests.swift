import Foundation
import Shared
import XCTest

@testable import TunnelServer

/// GOST's top-level `ingresses:` is the relay's section: decoded strictly when the relay offers
/// it, refused as an unknown key by a binary that does not, checked before anything runs.
final class IngressesSectionTests: XCTestCase {
    let yaml = """
        services:
        - name: relay
          addr: :8443
          handler: {type: tunnel, metadata: {ingress: i}}
          listener: {type: tcp}
        ingresses:
        - name: i
        - name: j
          rules:
          - {hostname: a.test, endpoint: t1}
        """

    func testTheRelayDecodesItsSection() throws {
        let config = try ConfigLoader.parse(yaml, sections: [IngressesSection.self])
        XCTAssertEqual(config.ingresses, [IngressConfig(name: "i", rules: []), IngressConfig(name: "j", rules: [.init(hostname: "a.test", endpoint: "t1")])])
        XCTAssertEqual(Registry.standard.withTunnel(LocalTunnelDirectory()).configSections.map { $0.key }, ["ingresses", "etcd"])
    }

    func testABinaryWithoutTheSectionRefusesIt() {
        XCTAssertThrowsError(try ConfigLoader.parse(yaml)) { error in
            XCTAssertEqual("\(error)", "ingresses: unknown key \"ingresses\" (known here: chains, log, services)")
        }
        XCTAssertThrowsError(try ConfigLoader.parse("ingress: []\n", sections: [IngressesSection.self])) { error in
            XCTAssertEqual("\(error)", "ingress: unknown key \"ingress\" (known here: chains, ingresses, log, services)")
        }
    }

    func testEntriesAreDecodedStrictlyWithTheirPath() {
        XCTAssertThrowsError(try ConfigLoader.parse("ingresses:\n- name: i\n  rules: [{hostname: a, endpoint: b, weight: 2}]\n", sections: [IngressesSection.self])) { error in
            XCTAssertEqual("\(error)", "ingresses[0].rules[0].weight: unknown key \"weight\" (known here: certFile, endpoint, hostname, hstsMaxAge, keyFile, locations, policy, redirectHTTPS, tls, upstream)")
        }
    }

    func testTheSectionIsCheckedBeforeAnyServiceIsBuilt() throws {
        for (sectionYAML, expected) in [
            ("ingresses:\n- name: ''\n", "ingresses[0].name: an ingress needs a name"),
            ("ingresses:\n- name: i\n- name: i\n", "ingresses[1].name: duplicate ingress name \"i\""),
            ("ingresses:\n- name: i\n  rules: [{hostname: a.test, endpoint: ''}]\n", "ingresses[0].rules[0]: a rule needs a hostname and an endpoint (tunnel ID)"),
            ("ingresses:\n- name: i\n  rules: [{hostname: a.test, endpoint: t, upstream: h3}]\n", "ingresses[0].rules[0].upstream: expected http1 or h2c, got \"h3\""),
        ] {
            let config = try ConfigLoader.parse(sectionYAML, sections: [IngressesSection.self])
            XCTAssertThrowsError(try config.sections.all.forEach { try $0.validate() }) { XCTAssertEqual("\($0)", expected) }
        }
    }

    func testUpstreamIsARuleOption() throws {
        let config = try ConfigLoader.parse("ingresses:\n- name: i\n  rules: [{hostname: a.test, endpoint: t, upstream: h2c}, {hostname: b.test, endpoint: t, upstream: http1}]\n", sections: [IngressesSection.self])
        let rules = config.ingresses?.first?.rules ?? []
        XCTAssertEqual(try rules.map { try $0.options(path: "r").upstream }, [.h2c, .http1])
        XCTAssertEqual(try IngressRuleConfig(hostname: "c.test", endpoint: "t").options(path: "r").upstream, nil)
    }

    func testTheSectionIsWrittenBackAsAList() throws {
        var config = Config()
        config.ingresses = [IngressConfig(name: "i", rules: [.init(hostname: "a.test", endpoint: "t1")])]
        let again = try ConfigLoader.parse(String(decoding: try JSONEncoder().encode(config), as: UTF8.self), sections: [IngressesSection.self])
        XCTAssertEqual(again, config)
        XCTAssertNotEqual(again, Config())
        config.ingresses = nil
        XCTAssertEqual(config, Config())
    }
}
