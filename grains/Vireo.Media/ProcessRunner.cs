using System.Diagnostics;

namespace Vireo.Media;

/// <summary>What a finished child process left behind.</summary>
internal sealed record ProcessOutcome(int ExitCode, string StandardOutput, string StandardError);

/// <summary>Runs a short-lived tool (ffprobe, an encode) to completion, and kills it on time-out or cancellation.</summary>
internal static class ProcessRunner
{
    /// <summary>
    /// Runs <paramref name="fileName"/>; throws <see cref="TimeoutException"/> after <paramref name="timeout"/>
    /// and <see cref="OperationCanceledException"/> on cancellation, in both cases after the process is gone.
    /// A binary that cannot be started surfaces as <see cref="System.ComponentModel.Win32Exception"/>.
    /// </summary>
    public static async Task<ProcessOutcome> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in arguments) startInfo.ArgumentList.Add(a);
        using var process = Process.Start(startInfo) ?? throw new InvalidOperationException($"{fileName} did not start");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            try { process.Kill(entireProcessTree: true); }
            catch (InvalidOperationException) { /* exited meanwhile */ }
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            throw new TimeoutException($"{Path.GetFileName(fileName)} ran longer than {timeout}");
        }
        return new ProcessOutcome(process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }
}
