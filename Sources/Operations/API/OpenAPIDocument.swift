import Hummingbird
import Logging

/// Builds the OpenAPI 3 document a binary's admin API serves at `<prefix>/openapi.json`.
///
/// Why text fragments rather than a model: the document is fixed at build time and read by
/// tools (schemathesis in the tests, operators' generators), so it is written as the JSON it is;
/// each binary adds the paths and schemas of its own routes to the ones every API has.
public enum OpenAPIDocument {
    /// The whole document: `paths` and `schemas` are JSON members (`"/agents": {...}`), joined
    /// after the common ones. `secured`: every operation takes basic credentials (the `api`
    /// section sets auth); otherwise none does, and the document says so.
    public static func compose(title: String, prefix: String, paths: [String], schemas: [String], secured: Bool) -> String {
        """
        {"openapi":"3.0.3",
         "info":{"title":\(quoted(title)),"version":\(quoted(BuildVersion.current)),"description":"Admin API. Every route takes HTTP basic credentials when the api section sets auth."},
         "servers":[{"url":\(quoted(prefix))}],
         "security":\(secured ? #"[{"basic":[]}]"# : "[]"),
         "paths":{\((commonPaths + paths).joined(separator: ",\n"))},
         "components":{
          "securitySchemes":{"basic":{"type":"http","scheme":"basic"}},
          "responses":{
           "Unauthorized":{"description":"credentials missing or wrong","content":{"application/json":{"schema":{"$ref":"#/components/schemas/Error"}}}},
           "NotFound":{"description":"no such item","content":{"application/json":{"schema":{"$ref":"#/components/schemas/Error"}}}}
          },
          "schemas":{\((commonSchemas + schemas).joined(separator: ",\n"))}
         }
        }
        """
    }

    static func quoted(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// A JSON response member for `status` whose body is `schema` (a `$ref` name).
    public static func json(_ status: Int, _ description: String, ref: String) -> String {
        ##""\##(status)":{"description":"\##(description)","content":{"application/json":{"schema":{"$ref":"#/components/schemas/\##(ref)"}}}}"##
    }

    static let commonPaths = [
        ##""/health":{"get":{"operationId":"health","summary":"Liveness and counts","responses":{\##(json(200, "ok", ref: "Health")),"401":{"$ref":"#/components/responses/Unauthorized"}}}}"##,
        ##""/services":{"get":{"operationId":"listServices","summary":"Configured services","responses":{\##(json(200, "ok", ref: "ServiceList")),"401":{"$ref":"#/components/responses/Unauthorized"}}}}"##,
        ##""/openapi.json":{"get":{"operationId":"openapi","summary":"This document","responses":{"200":{"description":"the OpenAPI document","content":{"application/json":{"schema":{"type":"object"}}}},"401":{"$ref":"#/components/responses/Unauthorized"}}}}"##,
    ]

    /// `POST /reload`, for binaries that can reload.
    static let reloadPath = ##""/reload":{"post":{"operationId":"reload","summary":"Re-read the configuration, tokens and certificates; apply what changed","responses":{\##(json(200, "applied", ref: "Reload")),\##(json(400, "refused: the running configuration stays", ref: "Reload")),"401":{"$ref":"#/components/responses/Unauthorized"}}}}"##
    static let reloadSchema = ##""Reload":{"type":"object","required":["changes","failed","error","path"],"properties":{"changes":{"type":"array","items":{"type":"string"}},"failed":{"type":"object","additionalProperties":{"type":"string"}},"error":{"type":"string","nullable":true},"path":{"type":"string","nullable":true}},"additionalProperties":false}"##

    static let commonSchemas = [
        ##""Error":{"type":"object","required":["error"],"properties":{"error":{"type":"string"},"path":{"type":"string"}},"additionalProperties":false}"##,
        ##""Health":{"type":"object","required":["status","role","version","uptimeSeconds","agents","tunnels"],"properties":{"status":{"type":"string","enum":["ok"]},"role":{"type":"string"},"version":{"type":"string"},"uptimeSeconds":{"type":"number","minimum":0},"agents":{"type":"integer","minimum":0},"tunnels":{"type":"integer","minimum":0}},"additionalProperties":false}"##,
        ##""Service":{"type":"object","required":["name","addr","handler","listener"],"properties":{"name":{"type":"string"},"addr":{"type":"string"},"handler":{"type":"string"},"listener":{"type":"string"}},"additionalProperties":false}"##,
        ##""ServiceList":{"type":"object","required":["services"],"properties":{"services":{"type":"array","items":{"$ref":"#/components/schemas/Service"}}},"additionalProperties":false}"##,
    ]
}

/// The admin API of a binary with no routes of its own: `health`, `services`, the document.
public struct EngineAdminAPI: AdminAPI {
    public let role: String
    public let prefix: String

    public init(role: String, prefix: String = "/api") {
        self.role = role
        self.prefix = prefix
    }

    public var openAPIPaths: [String] { [] }
    public var openAPISchemas: [String] { [] }
    public func healthCounts() -> (agents: Int, tunnels: Int) { (0, 0) }
    public func addRoutes(to routes: AdminRoutes, logger: Logger) {}
}
