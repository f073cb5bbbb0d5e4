import Hummingbird
import HummingbirdTesting
import Shared
import XCTest

@testable import Operations

final class APISettingsTests: XCTestCase {
    func testLoopbackNeedsNoCredentials() throws {
        for addr in ["127.0.0.1:9000", "localhost:9000", "[::1]:9000", "127.0.0.2:1"] {
            let settings = try XCTUnwrap(APISettings.resolve(flag: addr, section: nil), addr)
            XCTAssertNil(settings.auth)
            XCTAssertEqual(settings.pathPrefix, "/api")
        }
    }

    func testBeyondLoopbackWithoutCredentialsIsRefusedWithItsPath() {
        for addr in [":9000", "0.0.0.0:9000", "10.1.2.3:9000", "[::]:9000", "example.com:80"] {
            XCTAssertThrowsError(try APISettings.resolve(flag: addr, section: nil), addr) { error in
                XCTAssertEqual((error as? ConfigError)?.path, "api.auth", "\(error)")
            }
        }
        XCTAssertNoThrow(try APISettings.resolve(flag: ":9000", section: APISection(auth: Credentials(username: "a", password: "b"))))
    }

    func testFlagWinsOverSection() throws {
        let section = APISection(addr: "127.0.0.1:1", pathPrefix: "/admin")
        let settings = try XCTUnwrap(APISettings.resolve(flag: "127.0.0.1:2", section: section))
        XCTAssertEqual(settings.address.port, 2)
        XCTAssertEqual(settings.pathPrefix, "/admin")
        XCTAssertNil(try APISettings.resolve(flag: nil, section: APISection()))
    }

    func testSectionValidation() {
        XCTAssertThrowsError(try APISection(pathPrefix: "api").validate()) { XCTAssertEqual(($0 as? ConfigError)?.path, "api.pathPrefix") }
        XCTAssertThrowsError(try APISection(pathPrefix: "/api/").validate())
        XCTAssertThrowsError(try APISection(pathPrefix: "/a\"><script>").validate(), "the prefix is written into the dashboard page")
        XCTAssertNoThrow(try APISection(pathPrefix: "/admin/v1").validate())
        XCTAssertThrowsError(try MetricsSection(path: "metrics").validate()) { XCTAssertEqual(($0 as? ConfigError)?.path, "metrics.path") }
        XCTAssertThrowsError(try MetricsSection(addr: "nope").validate()) { XCTAssertEqual(($0 as? ConfigError)?.path, "metrics.addr") }
        XCTAssertThrowsError(try MetricsSection(maxHostnames: 0).validate())
    }

    func testCredentialsAreRequiredOnEveryRoute() async throws {
        let settings = APISettings(address: ListenAddress(host: "127.0.0.1", port: 0), auth: Credentials(username: "admin", password: "s3cret"))
        let server = AdminServer(settings: settings, api: EngineAdminAPI(role: "test"), services: [], logger: .init(label: "test"))
        let app = Application(router: server.router())
        try await app.test(.router) { client in
            for path in ["/api/health", "/api/services", "/api/openapi.json", "/"] {
                try await client.execute(uri: path, method: .get) { response in
                    XCTAssertEqual(response.status, .unauthorized, path)
                    XCTAssertEqual(response.headers[.wwwAuthenticate], "Basic realm=\"tunnel test\", charset=\"UTF-8\"")
                }
            }
            let wrong = "Basic " + Data("admin:wrong".utf8).base64EncodedString()
            try await client.execute(uri: "/api/health", method: .get, headers: [.authorization: wrong]) { XCTAssertEqual($0.status, .unauthorized) }
            let right = "Basic " + Data("admin:s3cret".utf8).base64EncodedString()
            try await client.execute(uri: "/api/health", method: .get, headers: [.authorization: right]) { response in
                XCTAssertEqual(response.status, .ok)
                let health = try JSONDecoder().decode(HealthReport.self, from: Data(buffer: response.body))
                XCTAssertEqual(health.role, "test")
                XCTAssertEqual(health.status, "ok")
            }
            try await client.execute(uri: "/", method: .get, headers: [.authorization: right]) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertTrue(String(buffer: response.body).contains("content=\"/api\""), "the page learns the API's prefix")
            }
        }
    }

    func testOpenAPIDocumentIsJSON() throws {
        let doc = OpenAPIDocument.compose(title: "x", prefix: "/api", paths: [], schemas: [], secured: true)
        let object = try JSONSerialization.jsonObject(with: Data(doc.utf8)) as? [String: Any]
        XCTAssertEqual(object?["openapi"] as? String, "3.0.3")
        XCTAssertNotNil((object?["paths"] as? [String: Any])?["/health"])
    }
}
