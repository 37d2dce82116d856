using System.Diagnostics;
using Vireo.Testing;

namespace Vireo.Deploy.Tests;

/// <summary>The result of a finished process.</summary>
public sealed record CommandResult(int ExitCode, string Output, string Error)
{
    public string All => Output + Error;
}

/// <summary>
/// The programs the deployment checks run: helm (installed by infra/scripts/install.sh into the state folder's
/// tools/bin), node with the Kubernetes model packages (tools/node), and dotnet.
/// </summary>
public static class Tools
{
    private static string StateFolder => Environment.GetEnvironmentVariable("VIREO_STATE") is { Length: > 0 } state
        ? state
        : Path.Combine(Repository.Root, ".state");

    public static string ChartFolder => Path.Combine(Repository.Root, "helm", "vireo");

    /// <summary>helm from the state folder, else from PATH; null when neither has it.</summary>
    public static string? Helm { get; } = Find(Path.Combine(StateFolder, "tools", "bin", "helm"), "helm");

    public static string? Node { get; } = Find(null, "node");

    /// <summary>node_modules holding kubernetes-models, @kubernetes-models/keda and @kubernetes-models/prometheus-operator.</summary>
    public static string? KubernetesModels { get; } = Directory.Exists(Path.Combine(StateFolder, "tools", "node", "node_modules", "kubernetes-models"))
        ? Path.Combine(StateFolder, "tools", "node", "node_modules")
        : null;

    public static string HelmMissing => $"helm is not installed ({Path.Combine(StateFolder, "tools", "bin", "helm")} nor on PATH): run infra/scripts/install.sh";

    public static string ModelsMissing => $"node or the kubernetes-models packages are missing ({Path.Combine(StateFolder, "tools", "node")}): run infra/scripts/install.sh";

    public static CommandResult Run(string file, IEnumerable<string> arguments, string? workingDirectory = null, TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? Repository.Root,
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout ?? TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', arguments)} did not finish in time");
        }
        process.WaitForExit();
        return new CommandResult(process.ExitCode, output.Result, error.Result);
    }

    private static string? Find(string? preferred, string name)
    {
        if (preferred is not null && File.Exists(preferred))
            return preferred;
        foreach (var folder in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(folder, name);
            if (File.Exists(candidate))
                return candidate;
        }
        return null;
    }
}
