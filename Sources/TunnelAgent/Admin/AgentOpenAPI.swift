import Operations

/// The agent's part of the admin API's OpenAPI document: every route `AgentAdminAPI` adds, with
/// the schemas of `AgentViews` (the inspector's routes and the `Request` and `Tunnel` schemas are
/// `InspectorOpenAPI`'s, shared with the relay). The tests check every answer against it
/// (schemathesis), so a route and its entry here change together.
enum AgentOpenAPI {
    static let unauthorized = ##""401":{"$ref":"#/components/responses/Unauthorized"}"##
    static func ok(_ ref: String) -> String { OpenAPIDocument.json(200, "ok", ref: ref) }

    static let paths = [
        ##""/tunnels":{"get":{"operationId":"listTunnels","summary":"The tunnels this agent serves, with their relay sessions, hostnames and traffic","responses":{\##(ok("TunnelList")),\##(unauthorized)}}}"##,
        ##""/sessions":{"get":{"operationId":"listSessions","summary":"This agent's live sessions to the relay","responses":{\##(ok("SessionList")),\##(unauthorized)}}}"##,
    ] + InspectorOpenAPI.requestPaths(replaySummary: "Send a kept request straight to the tunnel's local service again (a new connection); the answer is a new record")

    static let schemas = InspectorOpenAPI.requestSchemas + InspectorOpenAPI.tunnelSchemas + [
        ##""Session":{"type":"object","required":["id","relay","connectedAt","rttMilliseconds","openStreams","streamsTotal","bytesIn","bytesOut","goingAway","tunnels"],"properties":{"id":{"type":"string"},"relay":{"type":"string"},"connectedAt":{"type":"string","format":"date-time"},"rttMilliseconds":{"type":"number","nullable":true},"openStreams":{"type":"integer","minimum":0},"streamsTotal":{"type":"integer","minimum":0},"bytesIn":{"type":"integer","minimum":0,"description":"received from the relay"},"bytesOut":{"type":"integer","minimum":0,"description":"sent to the relay"},"goingAway":{"type":"boolean"},"tunnels":{"type":"array","items":{"type":"string"}}},"additionalProperties":false}"##,
        ##""SessionList":{"type":"object","required":["sessions"],"properties":{"sessions":{"type":"array","items":{"$ref":"#/components/schemas/Session"}}},"additionalProperties":false}"##,
    ]
}
