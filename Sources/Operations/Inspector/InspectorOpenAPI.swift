/// The parts of the admin API's OpenAPI document the relay and the agent share: the request
/// inspector's routes (`/requests`, `/requests/{id}`, `/requests/{id}/replay`) and the schemas of
/// what they answer (`Request`, `Header`), and the `Tunnel` schema both binaries' `GET /tunnels`
/// answer with. One text, so a client reads either binary's inspector the same way.
public enum InspectorOpenAPI {
    static let unauthorized = ##""401":{"$ref":"#/components/responses/Unauthorized"}"##
    static let notFound = ##""404":{"$ref":"#/components/responses/NotFound"}"##
    static func error(_ status: Int, _ description: String) -> String { OpenAPIDocument.json(status, description, ref: "Error") }
    static func ok(_ ref: String) -> String { OpenAPIDocument.json(200, "ok", ref: ref) }

    /// The inspector's paths; `replaySummary` says where a replay goes (the tunnel, the service).
    public static func requestPaths(replaySummary: String) -> [String] {
        [
            ##""/requests":{"get":{"operationId":"listRequests","summary":"The request inspector: the newest HTTP requests (unknown query parameters are refused)","parameters":[{"name":"tunnel","in":"query","required":false,"schema":{"type":"string"}},{"name":"limit","in":"query","required":false,"schema":{"type":"integer","minimum":1,"maximum":10000}}],"responses":{\##(ok("RequestList")),\##(error(400, "bad limit")),\##(unauthorized)}}}"##,
            ##""/requests/{id}":{"get":{"operationId":"getRequest","summary":"One request the inspector keeps","parameters":[{"name":"id","in":"path","required":true,"schema":{"type":"string"}}],"responses":{\##(ok("Request")),\##(unauthorized),\##(notFound)}}}"##,
            ##""/requests/{id}/replay":{"post":{"operationId":"replayRequest","summary":\##(OpenAPIDocument.quoted(replaySummary)),"parameters":[{"name":"id","in":"path","required":true,"schema":{"type":"string"}}],"responses":{\##(ok("Request")),\##(unauthorized),\##(notFound),\##(error(409, "the body was not kept whole, or the tunnel is offline")),\##(error(502, "the tunnel could not answer")),\##(error(504, "no answer in time"))}}}"##,
        ]
    }

    /// HTTP answers by class, `1xx` … `5xx`.
    public static let counts = ##"{"type":"object","required":["1xx","2xx","3xx","4xx","5xx"],"properties":{"1xx":{"type":"integer"},"2xx":{"type":"integer"},"3xx":{"type":"integer"},"4xx":{"type":"integer"},"5xx":{"type":"integer"}},"additionalProperties":{"type":"integer"}}"##

    /// `Header`, `Request`, `RequestList`.
    public static let requestSchemas = [
        ##""Header":{"type":"object","required":["name","value"],"properties":{"name":{"type":"string"},"value":{"type":"string"}},"additionalProperties":false}"##,
        ##""Request":{"type":"object","required":["id","tunnel","method","host","path","protocol","status","durationMilliseconds","requestBytes","responseBytes","client","startedAt","requestHeaders","responseHeaders","requestBody","requestBodyTruncated","responseBody","responseBodyTruncated","replayOf"],"properties":{"id":{"type":"string"},"tunnel":{"type":"string"},"method":{"type":"string"},"host":{"type":"string"},"path":{"type":"string"},"protocol":{"type":"string"},"status":{"type":"integer","nullable":true},"durationMilliseconds":{"type":"number","nullable":true},"requestBytes":{"type":"integer","minimum":0},"responseBytes":{"type":"integer","minimum":0},"client":{"type":"string","nullable":true},"startedAt":{"type":"string","format":"date-time"},"requestHeaders":{"type":"array","items":{"$ref":"#/components/schemas/Header"}},"responseHeaders":{"type":"array","items":{"$ref":"#/components/schemas/Header"}},"requestBody":{"type":"string","format":"byte","nullable":true},"requestBodyTruncated":{"type":"boolean"},"responseBody":{"type":"string","format":"byte","nullable":true},"responseBodyTruncated":{"type":"boolean"},"replayOf":{"type":"string","nullable":true}},"additionalProperties":false}"##,
        ##""RequestList":{"type":"object","required":["requests"],"properties":{"requests":{"type":"array","items":{"$ref":"#/components/schemas/Request"}}},"additionalProperties":false}"##,
    ]

    /// `Tunnel`, `TunnelList`.
    public static let tunnelSchemas = [
        ##""Tunnel":{"type":"object","required":["id","sessions","hostnames","openStreams","streamsTotal","bytesIn","bytesOut","requests"],"properties":{"id":{"type":"string"},"sessions":{"type":"array","items":{"type":"string"}},"hostnames":{"type":"array","items":{"type":"string"}},"openStreams":{"type":"integer","minimum":0},"streamsTotal":{"type":"integer","minimum":0},"bytesIn":{"type":"integer","minimum":0,"description":"from visitors towards the agent"},"bytesOut":{"type":"integer","minimum":0,"description":"from the agent towards visitors"},"requests":\##(counts)},"additionalProperties":false}"##,
        ##""TunnelList":{"type":"object","required":["tunnels"],"properties":{"tunnels":{"type":"array","items":{"$ref":"#/components/schemas/Tunnel"}}},"additionalProperties":false}"##,
    ]
}
