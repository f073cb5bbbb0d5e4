import Operations

/// The relay's part of the admin API's OpenAPI document: every route `RelayAdminAPI` adds, with
/// the schemas of `AdminViews` and `InspectedRequest`. The tests validate every answer against it
/// (schemathesis), so a route and its entry here change together.
enum RelayOpenAPI {
    static func document(prefix: String) -> String {
        OpenAPIDocument.compose(title: "tunnel-server", prefix: prefix, paths: paths, schemas: schemas)
    }

    static let unauthorized = ##""401":{"$ref":"#/components/responses/Unauthorized"}"##
    static let notFound = ##""404":{"$ref":"#/components/responses/NotFound"}"##
    static func error(_ status: Int, _ description: String) -> String { OpenAPIDocument.json(status, description, ref: "Error") }
    static func ok(_ ref: String, status: Int = 200) -> String { OpenAPIDocument.json(status, "ok", ref: ref) }
    static let noContent = ##""204":{"description":"done"}"##

    static let paths = [
        ##""/agents":{"get":{"operationId":"listAgents","summary":"Agent sessions","responses":{\##(ok("AgentList")),\##(unauthorized)}}}"##,
        ##""/agents/{id}":{"delete":{"operationId":"revokeAgent","summary":"Close an agent session (its agent reconnects only if its token is still valid)","parameters":[{"name":"id","in":"path","required":true,"schema":{"type":"string"}}],"responses":{\##(noContent),\##(unauthorized),\##(notFound)}}}"##,
        ##""/tunnels":{"get":{"operationId":"listTunnels","summary":"Tunnels with their sessions, hostnames and traffic","responses":{\##(ok("TunnelList")),\##(unauthorized)}}}"##,
        ##""/rules":{"get":{"operationId":"listRules","summary":"Ingress rules in force","responses":{\##(ok("RuleList")),\##(unauthorized)}},"post":{"operationId":"addRule","summary":"Add an ingress rule","requestBody":{"required":true,"content":{"application/json":{"schema":{"$ref":"#/components/schemas/NewRule"}}}},"responses":{\##(ok("Rule", status: 201)),\##(error(400, "not a rule")),\##(unauthorized),\##(error(409, "the hostname already routes somewhere"))}}}"##,
        ##""/rules/{hostname}":{"delete":{"operationId":"removeRule","summary":"Remove the rule for exactly this hostname pattern","parameters":[{"name":"hostname","in":"path","required":true,"schema":{"type":"string"}}],"responses":{\##(noContent),\##(unauthorized),\##(notFound)}}}"##,
        ##""/ports":{"get":{"operationId":"listPorts","summary":"Ports agents had the relay open (rtcp/rudp)","responses":{\##(ok("PortList")),\##(unauthorized)}}}"##,
        ##""/requests":{"get":{"operationId":"listRequests","summary":"The request inspector: the newest HTTP requests","parameters":[{"name":"tunnel","in":"query","required":false,"schema":{"type":"string"}},{"name":"limit","in":"query","required":false,"schema":{"type":"integer","minimum":1,"maximum":10000}}],"responses":{\##(ok("RequestList")),\##(error(400, "bad limit")),\##(unauthorized)}}}"##,
        ##""/requests/{id}":{"get":{"operationId":"getRequest","summary":"One request the inspector keeps","parameters":[{"name":"id","in":"path","required":true,"schema":{"type":"string"}}],"responses":{\##(ok("Request")),\##(unauthorized),\##(notFound)}}}"##,
        ##""/requests/{id}/replay":{"post":{"operationId":"replayRequest","summary":"Send a kept request to its tunnel again; the answer is a new record","parameters":[{"name":"id","in":"path","required":true,"schema":{"type":"string"}}],"responses":{\##(ok("Request")),\##(unauthorized),\##(notFound),\##(error(409, "the body was not kept whole")),\##(error(502, "the tunnel could not answer")),\##(error(503, "the tunnel is offline")),\##(error(504, "no answer in time"))}}}"##,
        ##""/drain":{"post":{"operationId":"drain","summary":"GOAWAY on every agent session: agents open new sessions, open streams finish","responses":{\##(ok("Drained")),\##(unauthorized)}}}"##,
    ]

    static let counts = ##"{"type":"object","required":["1xx","2xx","3xx","4xx","5xx"],"properties":{"1xx":{"type":"integer"},"2xx":{"type":"integer"},"3xx":{"type":"integer"},"4xx":{"type":"integer"},"5xx":{"type":"integer"}},"additionalProperties":{"type":"integer"}}"##

    static let schemas = [
        ##""Agent":{"type":"object","required":["id","peer","version","token","tunnels","connectedAt","rttMilliseconds","openStreams","streamsTotal","bytesIn","bytesOut","goingAway"],"properties":{"id":{"type":"string"},"peer":{"type":"string","nullable":true},"version":{"type":"string","nullable":true},"token":{"type":"string","nullable":true,"description":"who the agent's token names"},"tunnels":{"type":"array","items":{"type":"string"}},"connectedAt":{"type":"string","format":"date-time"},"rttMilliseconds":{"type":"number","nullable":true},"openStreams":{"type":"integer","minimum":0},"streamsTotal":{"type":"integer","minimum":0},"bytesIn":{"type":"integer","minimum":0,"description":"received from the agent"},"bytesOut":{"type":"integer","minimum":0,"description":"sent to the agent"},"goingAway":{"type":"boolean"}},"additionalProperties":false}"##,
        ##""AgentList":{"type":"object","required":["agents"],"properties":{"agents":{"type":"array","items":{"$ref":"#/components/schemas/Agent"}}},"additionalProperties":false}"##,
        ##""Tunnel":{"type":"object","required":["id","sessions","hostnames","openStreams","streamsTotal","bytesIn","bytesOut","requests"],"properties":{"id":{"type":"string"},"sessions":{"type":"array","items":{"type":"string"}},"hostnames":{"type":"array","items":{"type":"string"}},"openStreams":{"type":"integer","minimum":0},"streamsTotal":{"type":"integer","minimum":0},"bytesIn":{"type":"integer","minimum":0,"description":"from visitors towards the agent"},"bytesOut":{"type":"integer","minimum":0,"description":"from the agent towards visitors"},"requests":\##(counts)},"additionalProperties":false}"##,
        ##""TunnelList":{"type":"object","required":["tunnels"],"properties":{"tunnels":{"type":"array","items":{"$ref":"#/components/schemas/Tunnel"}}},"additionalProperties":false}"##,
        ##""Rule":{"type":"object","required":["hostname","tunnel","source"],"properties":{"hostname":{"type":"string"},"tunnel":{"type":"string"},"source":{"type":"string","enum":["config","agent","api"]}},"additionalProperties":false}"##,
        ##""RuleList":{"type":"object","required":["rules"],"properties":{"rules":{"type":"array","items":{"$ref":"#/components/schemas/Rule"}}},"additionalProperties":false}"##,
        ##""NewRule":{"type":"object","required":["hostname","tunnel"],"properties":{"hostname":{"type":"string","example":"app.example.com"},"tunnel":{"type":"string","example":"web"}}}"##,
        ##""Port":{"type":"object","required":["port","udp","tunnel"],"properties":{"port":{"type":"integer"},"udp":{"type":"boolean"},"tunnel":{"type":"string"}},"additionalProperties":false}"##,
        ##""PortList":{"type":"object","required":["ports"],"properties":{"ports":{"type":"array","items":{"$ref":"#/components/schemas/Port"}}},"additionalProperties":false}"##,
        ##""Header":{"type":"object","required":["name","value"],"properties":{"name":{"type":"string"},"value":{"type":"string"}},"additionalProperties":false}"##,
        ##""Request":{"type":"object","required":["id","tunnel","method","host","path","protocol","status","durationMilliseconds","requestBytes","responseBytes","client","startedAt","requestHeaders","responseHeaders","requestBody","requestBodyTruncated","responseBody","responseBodyTruncated","replayOf"],"properties":{"id":{"type":"string"},"tunnel":{"type":"string"},"method":{"type":"string"},"host":{"type":"string"},"path":{"type":"string"},"protocol":{"type":"string"},"status":{"type":"integer","nullable":true},"durationMilliseconds":{"type":"number","nullable":true},"requestBytes":{"type":"integer","minimum":0},"responseBytes":{"type":"integer","minimum":0},"client":{"type":"string","nullable":true},"startedAt":{"type":"string","format":"date-time"},"requestHeaders":{"type":"array","items":{"$ref":"#/components/schemas/Header"}},"responseHeaders":{"type":"array","items":{"$ref":"#/components/schemas/Header"}},"requestBody":{"type":"string","format":"byte","nullable":true},"requestBodyTruncated":{"type":"boolean"},"responseBody":{"type":"string","format":"byte","nullable":true},"responseBodyTruncated":{"type":"boolean"},"replayOf":{"type":"string","nullable":true}},"additionalProperties":false}"##,
        ##""RequestList":{"type":"object","required":["requests"],"properties":{"requests":{"type":"array","items":{"$ref":"#/components/schemas/Request"}}},"additionalProperties":false}"##,
        ##""Drained":{"type":"object","required":["sessions"],"properties":{"sessions":{"type":"integer","minimum":0}},"additionalProperties":false}"##,
    ]
}
