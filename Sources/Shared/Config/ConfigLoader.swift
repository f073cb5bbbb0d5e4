import Foundation
import Yams

/// Reads a GOST-style YAML file into a `Config`, turning decoding failures into path-qualified
/// `ConfigError`s (`services[0].handler: missing key "type"`).
public enum ConfigLoader {
    /// `sections`: the top-level sections other modules contribute (`Registry.configSections`);
    /// any other key at the top is refused.
    public static func load(path: String, sections: [any ConfigSection.Type] = []) throws -> Config {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(path: path, reason: "cannot read file")
        }
        return try parse(String(decoding: data, as: UTF8.self), source: path, sections: sections)
    }

    public static func parse(_ text: String, source: String = "config", sections: [any ConfigSection.Type] = []) throws -> Config {
        if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return Config() }
        return try decode(Config.self, from: text, source: source, userInfo: [.configSections: sections])
    }

    /// Decodes any strict YAML document (a tokens file, say) with the same precise errors as the
    /// main config: the path of the offending key and why, never a raw decoder dump. The one way
    /// in for config files: Yams' decoder wrapped in `StrictDecoder`, so a type whose coding keys
    /// are `CaseIterable` refuses keys it does not know, at every level. (JSON configs are YAML
    /// to Yams, so they come this way too.)
    public static func decode<T: Decodable>(_ type: T.Type, from text: String, source: String) throws -> T {
        try decode(type, from: text, source: source, userInfo: [:])
    }

    static func decode<T: Decodable>(_ type: T.Type, from text: String, source: String, userInfo: [CodingUserInfoKey: Any]) throws -> T {
        do {
            return try YAMLDecoder().decode(StrictlyDecoded<T>.self, from: text, userInfo: userInfo).value
        } catch let error as ConfigError {
            throw error
        } catch let error as DecodingError {
            throw describe(error)
        } catch let error as YamlError {
            throw ConfigError(path: source, reason: "not valid YAML: \(error)")
        } catch {
            throw ConfigError(path: source, reason: "\(error)")
        }
    }

    static func describe(_ error: DecodingError) -> ConfigError {
        switch error {
        case .keyNotFound(let key, let ctx):
            return ConfigError(path: ConfigPath.render(ctx.codingPath + [key]), reason: "missing required key \"\(key.stringValue)\"")
        case .typeMismatch(let type, let ctx):
            return ConfigError(path: ConfigPath.render(ctx.codingPath), reason: "wrong type, expected \(describe(type))")
        case .valueNotFound(let type, let ctx):
            return ConfigError(path: ConfigPath.render(ctx.codingPath), reason: "missing value, expected \(describe(type))")
        case .dataCorrupted(let ctx):
            if let underlying = ctx.underlyingError as? ConfigError { return underlying }
            return ConfigError(path: ConfigPath.render(ctx.codingPath), reason: ctx.debugDescription)
        @unknown default:
            return ConfigError(path: "config", reason: "\(error)")
        }
    }

    static func describe(_ type: Any.Type) -> String {
        let name = "\(type)"
        if name.hasPrefix("Array") { return "a list" }
        if name.hasPrefix("Dictionary") || name.hasSuffix("Config") || name == "Metadata" { return "a mapping" }
        switch name {
        case "String", "LooseString": return "text"
        case "Int": return "an integer"
        case "Bool": return "true or false"
        default: return name
        }
    }
}
