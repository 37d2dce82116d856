using System.Diagnostics;

namespace Vireo.Media;

/// <summary>What a finished child process left behind.</summary>
internal sealed record ProcessOutcome(int ExitCode, string StandardOutput, string StandardError);

/// <summary>Runs a short-lived tool (ffprobe, an encode) to completion, and kills it on time-out or cancellation.</summary>
internal static class ProcessRunner
{
    /// <summary>Far beyond any ffprobe report of a real video's streams and format; a report this long is metadata run wild.</summary>
    public const int DefaultMaxOutputChars = 16 * 1024 * 1024;

    /// <summary>
    /// Runs <paramref name="fileName"/>; throws <see cref="TimeoutException"/> after <paramref name="timeout"/>
    /// and <see cref="OperationCanceledException"/> on cancellation, in both cases after the process is gone.
    /// A binary that cannot be started surfaces as <see cref="System.ComponentModel.Win32Exception"/>. Standard output
    /// longer than <paramref name="maxOutputChars"/> kills the process and throws <see cref="InvalidDataException"/>;
    /// standard error is cut there.
    /// </summary>
    public static async Task<ProcessOutcome> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout, CancellationToken cancellationToken,
        int maxOutputChars = DefaultMaxOutputChars)
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
        var overflowed = false;
        void Overflow()
        {
            overflowed = true;
            try { process.Kill(entireProcessTree: true); }
            catch (InvalidOperationException) { /* exited meanwhile */ }
        }
        var stdout = ReadCappedAsync(process.StandardOutput, maxOutputChars, Overflow);
        var stderr = ReadCappedAsync(process.StandardError, maxOutputChars, () => { });
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
        var output = await stdout.ConfigureAwait(false);
        var errors = await stderr.ConfigureAwait(false);
        if (overflowed)
            throw new InvalidDataException($"{Path.GetFileName(fileName)} wrote more than {maxOutputChars} characters");
        return new ProcessOutcome(process.ExitCode, output, errors);
    }

    /// <summary>Reads a stream to its end, keeping at most <paramref name="maxChars"/>; past that, calls <paramref name="overflow"/> once.</summary>
    private static async Task<string> ReadCappedAsync(StreamReader reader, int maxChars, Action overflow)
    {
        var text = new System.Text.StringBuilder();
        var buffer = new char[16 * 1024];
        var over = false;
        int read;
        while ((read = await reader.ReadAsync(buffer, CancellationToken.None).ConfigureAwait(false)) > 0)
        {
            if (over)
                continue;
            if (text.Length + read > maxChars)
            {
                over = true;
                overflow();
                continue;
            }
            text.Append(buffer, 0, read);
        }
        return text.ToString();
    }
}
