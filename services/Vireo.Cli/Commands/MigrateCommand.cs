using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Vireo.Storage;

namespace Vireo.Cli.Commands;

/// <summary>`vireo migrate`: brings the Postgres schema to the version this build ships.</summary>
public static class MigrateCommand
{
    public static Command Create()
    {
        var command = new Command("migrate", "Apply the database migrations this build ships (idempotent).");
        command.SetAction(async (ParseResult _, CancellationToken ct) =>
        {
            await using var services = CliServices.Build(s => s.AddVireoStorage());
            var migrator = services.GetRequiredService<Migrator>();
            var applied = await migrator.MigrateAsync(ct);
            var version = await migrator.CurrentVersionAsync(ct);
            Console.WriteLine(applied.Count == 0
                ? $"schema is current (version {version})"
                : $"applied {string.Join(", ", applied)}; schema is at version {version}");
            return 0;
        });
        return command;
    }
}
