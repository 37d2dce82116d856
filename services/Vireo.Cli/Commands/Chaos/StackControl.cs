using System.Diagnostics;

namespace Vireo.Cli.Commands.Chaos;

/// <summary>
/// Stops and starts parts of the local stack through its scripts (infra/scripts) and the pid files they keep under
/// the state folder: silos and sink in run/NAME.pid, Redis in redis/redis.pid.
/// </summary>
internal sealed class StackControl(string root, string state)
{
    /// <summary>The checkout whose scripts run the stack: the first folder above the CLI's binary that holds them.</summary>
    public static StackControl Locate(string state)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "infra", "scripts", "stack.sh")))
                return new StackControl(dir.FullName, state);
        }
        throw new InvalidOperationException($"no infra/scripts/stack.sh above {AppContext.BaseDirectory}: run the benchmark from a checkout");
    }

    private string PidFile(FaultTarget target) => target switch
    {
        FaultTarget.SiloMedia => Path.Combine(state, "run", "silo-media.pid"),
        FaultTarget.SiloVision => Path.Combine(state, "run", "silo-vision.pid"),
        FaultTarget.SiloLanguage => Path.Combine(state, "run", "silo-language.pid"),
        FaultTarget.Sink => Path.Combine(state, "run", "sink.pid"),
        FaultTarget.Redis => Path.Combine(state, "redis", "redis.pid"),
        _ => throw new ArgumentOutOfRangeException(nameof(target), target, "Postgres is stopped, not killed"),
    };

    /// <summary>Stops the target: SIGKILL for a process (waiting until it is gone), a clean stop for Postgres. Returns what was done.</summary>
    public async Task<string> StopAsync(FaultTarget target, CancellationToken ct)
    {
        if (target == FaultTarget.Postgres)
        {
            await ScriptAsync(ct, "stack.sh", "stop", "postgres");
            return "stopped";
        }
        var file = PidFile(target);
        if (!File.Exists(file) || !int.TryParse((await File.ReadAllTextAsync(file, ct)).Trim(), out var pid))
            return "not running";
        try
        {
            using var process = Process.GetProcessById(pid);
            process.Kill();
        }
        catch (ArgumentException)
        {
            return "not running";
        }
        var clock = Stopwatch.StartNew();
        while (Alive(pid) && clock.Elapsed < TimeSpan.FromSeconds(10))
            await Task.Delay(20, ct);
        return $"pid {pid} killed";
    }

    /// <summary>Starts the target again and waits until it is ready, retrying a failed start a few times.</summary>
    public async Task StartAsync(FaultTarget target, CancellationToken ct)
    {
        string[] command = target switch
        {
            FaultTarget.Postgres => ["stack.sh", "start", "postgres"],
            FaultTarget.Redis => ["stack.sh", "start", "redis"],
            _ => ["services.sh", "up"],
        };
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await ScriptAsync(ct, command);
                return;
            }
            catch (InvalidOperationException) when (attempt < 5)
            {
                await Task.Delay(TimeSpan.FromSeconds(2), ct);
            }
        }
    }

    /// <summary>Starts whatever part of the stack is not running (the scripts' own `up`).</summary>
    public async Task UpAsync(CancellationToken ct)
    {
        await ScriptAsync(ct, "stack.sh", "up");
        await ScriptAsync(ct, "services.sh", "up");
    }

    private static bool Alive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private async Task ScriptAsync(CancellationToken ct, params string[] args)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = root };
        start.ArgumentList.Add(Path.Combine(root, "infra", "scripts", args[0]));
        foreach (var a in args.Skip(1))
            start.ArgumentList.Add(a);
        start.Environment["VIREO_STATE"] = state;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(ct);
        var errors = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{string.Join(' ', args)} exited with {process.ExitCode}: {(await errors).Trim()} {(await output).Trim()}");
    }
}
