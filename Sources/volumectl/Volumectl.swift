// volumectl's entry point: the root command and the list of its command groups.
import ArgumentParser

@main
struct Volumectl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "volumectl",
        abstract: "Operate persistent volumes: create them, move files in and out, mount them, check and collect them.",
        discussion: """
            volumectl works directly on a data directory (--data-dir, or VOLUMES_DATA_DIR; default
            /var/lib/volumes for root, ~/.local/share/volumes otherwise). No daemon is needed.
            With --endpoint URL (or VOLUMES_ENDPOINT) and VOLUMES_API_KEY, the volume, files and
            transfer commands talk to a volumed daemon instead, with the same output and exit codes.

            Exit codes: 0 ok, 1 a check said no (files exists: false; fsck: problems remain),
            64 usage or bad input, 3 not found, 4 conflict, 5 over the cap, 6 not permitted,
            70 internal error.
            """,
        subcommands: [
            // Command groups register here, one line each.
            VolumeCommand.self,
            FilesCommand.self,
            QuotaCommand.self,
            FsckCommand.self,
            GCCommand.self,
            MountCommand.self,
            UnmountCommand.self,
            MountLauncherCommand.self,
            ImportCommand.self,
            ExportCommand.self,
            UploadCommand.self,
            DownloadCommand.self,
            APIKeyCommand.self,
            SandboxCommand.self,
        ]
    )
}
