/// Placeholder until the dashboard lands.
enum DashboardAssets {
    static let indexHTML = #"<!doctype html><html><head><meta name="api-base" content="{{API_BASE}}"><title>tunnel</title></head><body>dashboard</body></html>"#
    static let script = ""
    static let style = ""
}
