import NewsConfig
import NewsSystem

extension AccountDatabase {
    /// This system's password and group databases.
    static var system: AccountDatabase {
        AccountDatabase(
            userNamed: { name in Confinement.userNamed(name).map { ServerIDs(uid: $0.uid, gid: $0.gid) } },
            userWithUID: { Confinement.userWithUID($0) },
            groupWithGID: { Confinement.groupWithGID($0) })
    }
}

extension Config {
    /// The control group's gid and the uid and gid each server runs as, checked against this
    /// system's accounts (`Config.serverIDs`). newsd resolves them before spawning, since a
    /// confined server cannot read /etc/passwd; `--check-config` resolves them too.
    func resolveAccounts() throws(ConfigError) -> (controlGroup: UInt32, servers: [ServerKind: ServerIDs]) {
        let group: UInt32
        do { group = try Confinement.lookupGroup(controlGroup) } catch {
            throw ConfigError(line: sourceLines.line(table: "", key: "control_group"), key: "control_group",
                              "unknown group '\(controlGroup)' (not in the group database)")
        }
        return (group, try serverIDs(accounts: .system, controlGroup: group))
    }
}
