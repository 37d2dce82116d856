using System.Diagnostics;
using Vireo.Testing;

namespace Vireo.Cli.Tests;

/// <summary>The CLI as a person runs it: `vireo ARGS` from the repository root, in a process of its own.</summary>
internal static class VireoProcess
{
    /// <summary>Runs the CLI and returns its standard output and error; fails the test if it exits with an error.</summary>
    public static async Task<string> RunAsync(TimeSpan timeout, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = Repository.Root, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "vireo.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        await process.WaitForExitAsync(cancel.Token);
        var output = await stdout + await stderr;
        Assert.True(process.ExitCode == 0, output);
        return output;
    }
}
