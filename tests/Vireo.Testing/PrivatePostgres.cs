using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Vireo.Testing;

/// <summary>
/// A PostgreSQL server of one test's own, in a temporary folder on a free port, for tests that stop and restart
/// the database without disturbing the shared stack.
/// </summary>
public sealed class PrivatePostgres : IAsyncDisposable
{
    private const string Bin = "/usr/lib/postgresql/15/bin";
    private readonly string _folder;
    private readonly string _data;

    private PrivatePostgres(string folder, int port, string password)
    {
        _folder = folder;
        _data = Path.Combine(folder, "data");
        Port = port;
        ConnectionString = $"Host=127.0.0.1;Port={port};Username=vireo;Password={password};Database=postgres;Timeout=5;Command Timeout=15";
    }

    public int Port { get; }
    public string ConnectionString { get; }

    public static async Task<PrivatePostgres> StartAsync()
    {
        var folder = Path.Combine(Path.GetTempPath(), "vireo-pg-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(folder);
        var password = Guid.NewGuid().ToString("N");
        var pwfile = Path.Combine(folder, "pw");
        await File.WriteAllTextAsync(pwfile, password + "\n");
        Run("chown", "-R", "postgres:postgres", folder);
        RunAsPostgres($"{Bin}/initdb", "-D", Path.Combine(folder, "data"), "-U", "vireo", $"--pwfile={pwfile}", "--auth=scram-sha-256", "--no-sync");
        var server = new PrivatePostgres(folder, FreePort(), password);
        await server.StartAgainAsync();
        return server;
    }

    /// <summary>Stops the server as an operator's restart would (fast shutdown: connections are cut).</summary>
    public void Stop() => RunAsPostgres($"{Bin}/pg_ctl", "-D", _data, "-m", "fast", "-w", "stop");

    public async Task StartAgainAsync()
    {
        RunAsPostgres($"{Bin}/pg_ctl", "-D", _data, "-w", "-t", "60", "-l", Path.Combine(_folder, "log"),
            "-o", $"-p {Port} -k {_folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start");
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        try { RunAsPostgres($"{Bin}/pg_ctl", "-D", _data, "-m", "immediate", "-w", "stop"); }
        catch (InvalidOperationException) { }
        await Task.Run(() => Directory.Delete(_folder, recursive: true));
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static void RunAsPostgres(string program, params string[] arguments)
    {
        if (Environment.UserName == "root")
            Run("runuser", ["-u", "postgres", "--", program, .. arguments]);
        else
            Run(program, arguments);
    }

    private static void Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(90_000))
        {
            process.Kill(true);
            throw new InvalidOperationException($"{program} did not finish within 90 s");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed ({process.ExitCode}): {error.Result}{output.Result}");
    }
}
