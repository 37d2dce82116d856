using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Vireo.Testing;

namespace Vireo.Cli.Tests;

/// <summary>The launcher and stack scripts as a person runs them.</summary>
public sealed class LauncherTests
{
    private static readonly string Root = Repository.Root;

    [Fact]
    public async Task StartingTheStackOnATakenPortFailsWithAClearMessage()
    {
        using var squatter = new TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        var port = ((IPEndPoint)squatter.LocalEndpoint).Port;
        var state = Directory.CreateTempSubdirectory("vireo-state-").FullName;
        try
        {
            var (code, output) = await RunAsync("bash", ["infra/scripts/stack.sh", "up"],
                ("VIREO_STATE", state), ("VIREO_PG_PORT", port.ToString()));
            Assert.NotEqual(0, code);
            Assert.Contains($"port {port} is taken", output);
            Assert.Contains("VIREO_PG_PORT", output);
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }

    [Fact]
    public async Task AServiceRestartedAfterBeingKilledKeepsItsEarlierLog()
    {
        // A state folder of its own (with the running stack's endpoints) keeps this sink's pid, URL and log apart
        // from any started by ./vireo up; a topic prefix and group of its own keep it off the pipeline's records.
        var state = Directory.CreateTempSubdirectory("vireo-state-").FullName;
        File.Copy(Path.Combine(LocalStack.StateFolder, "stack.env"), Path.Combine(state, "stack.env"));
        var tag = Guid.NewGuid().ToString("N")[..8];
        (string, string)[] environment = [("VIREO_STATE", state), ("VIREO_SILOS", " "), ("Kafka__TopicPrefix", $"restart-{tag}-"), ("Sink__GroupId", $"restart-{tag}")];
        var log = Path.Combine(state, "logs", "sink.log");
        try
        {
            var (code, output) = await RunAsync("bash", ["infra/scripts/services.sh", "up"], environment);
            Assert.True(code == 0, output);
            var first = await File.ReadAllTextAsync(log);
            Assert.Contains("starting sink", first);

            using (var killed = Process.GetProcessById(int.Parse(await File.ReadAllTextAsync(Path.Combine(state, "run", "sink.pid")))))
            {
                killed.Kill();
                await killed.WaitForExitAsync();
            }
            (code, output) = await RunAsync("bash", ["infra/scripts/services.sh", "up"], environment);
            Assert.True(code == 0, output);

            var second = await File.ReadAllTextAsync(log);
            Assert.StartsWith(first, second);
            Assert.Equal(2, second.Split('\n').Count(l => l.Contains("starting sink")));
        }
        finally
        {
            await RunAsync("bash", ["infra/scripts/services.sh", "down"], environment);
            Directory.Delete(state, recursive: true);
        }
    }

    [Fact]
    public async Task SampleOnAGeneratedClipPrintsTheCutsItKeeps()
    {
        var (code, output) = await RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "vireo.dll"), "sample", "--generate", "--scene", "0.3", "--fps", "0.5"]);
        Assert.True(code == 0, output);
        var lines = output.Split('\n').Where(l => l.Length > 0 && char.IsDigit(l.TrimStart()[0])).ToArray();
        Assert.Contains(lines, l => l.Contains("scene", StringComparison.OrdinalIgnoreCase) && l.Contains("2.0"));
        Assert.Contains(lines, l => l.Contains("scene", StringComparison.OrdinalIgnoreCase) && l.Contains("4.0"));
    }

    [Theory]
    [InlineData("--small-text-fraction", "1.5")]
    [InlineData("--text-probability", "-0.1")]
    public async Task TrainRefusesAShareOutsideZeroToOneBeforeWritingAnything(string option, string value)
    {
        var output = Path.Combine(Path.GetTempPath(), $"vireo-train-{Guid.NewGuid():N}");
        var (code, printed) = await RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "vireo.dll"), "train", "--out", output, option, value, "--device", "cpu"]);
        Assert.NotEqual(0, code);
        Assert.Contains($"{option} must be between 0 and 1.", printed);
        Assert.False(Directory.Exists(output));
    }

    [Theory]
    [InlineData("--add-vision-layers", "2")]
    [InlineData("--add-conv-stem", "16")]
    public async Task TrainRefusesToGrowAModelWithoutOneToStartFrom(string option, string value)
    {
        var output = Path.Combine(Path.GetTempPath(), $"vireo-train-{Guid.NewGuid():N}");
        var (code, printed) = await RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "vireo.dll"), "train", "--out", output, option, value, "--device", "cpu"]);
        Assert.NotEqual(0, code);
        Assert.Contains("grow a trained model: give it with --init-from.", printed);
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public async Task TrainRefusesADataEchoThatDoesNotDivideTheBatch()
    {
        var output = Path.Combine(Path.GetTempPath(), $"vireo-train-{Guid.NewGuid():N}");
        var (code, printed) = await RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "vireo.dll"), "train", "--out", output, "--batch-size", "6", "--data-echo", "4", "--device", "cpu"]);
        Assert.NotEqual(0, code);
        Assert.Contains("--data-echo must divide --batch-size", printed);
        Assert.False(Directory.Exists(output));
    }

    [Theory]
    [InlineData("--text-threshold", "1")]
    [InlineData("--shape-threshold", "-0.1")]
    public async Task EvalRefusesAThresholdOutsideZeroToOne(string option, string threshold)
    {
        var (code, printed) = await RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "vireo.dll"), "eval", option, threshold, "--frames", "1", "--real-frames", "1"]);
        Assert.NotEqual(0, code);
        Assert.Contains($"{option} must be at least 0 and below 1", printed);
    }

    [Theory]
    [InlineData("--frames")]
    [InlineData("--real-frames")]
    public async Task EvalRefusesAnEmptySetBeforeLoadingTheModel(string option)
    {
        var (code, printed) = await RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "vireo.dll"), "eval", option, "0"]);
        Assert.NotEqual(0, code);
        Assert.Contains($"{option} must be at least 1", printed);
        Assert.DoesNotContain("Unhandled exception", printed);
    }

    [Theory]
    [InlineData("auto")]
    [InlineData("off")]
    [InlineData("all-compressed")]
    public async Task AnalyzeTakesEachRoutingModeByTheNameTheApiGivesIt(string mode)
    {
        var missing = Path.Combine(Path.GetTempPath(), $"vireo-missing-{Guid.NewGuid():N}.mp4");
        var (code, printed) = await RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "vireo.dll"), "analyze", missing, "--routing", mode]);
        // Past the parser: the command itself turns the file down.
        Assert.Equal(2, code);
        Assert.Contains($"{missing} does not exist", printed);
    }

    [Theory]
    [InlineData("analyze", "0")]
    [InlineData("analyze", "41")]
    [InlineData("eval", "0")]
    public async Task AnalyzeAndEvalRefuseATileLimitNoRequestMayAsk(string command, string tiles)
    {
        string[] arguments = command == "analyze" ? ["analyze", "clip.mp4", "--max-tiles", tiles] : ["eval", "--max-tiles", tiles, "--frames", "1", "--real-frames", "1"];
        var (code, printed) = await RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "vireo.dll"), .. arguments]);
        Assert.Equal(1, code);
        Assert.Contains($"--max-tiles must be between 1 and {AnalysisLimits.MaxTiles}", printed);
        Assert.DoesNotContain("Unhandled exception", printed);
    }

    [Fact]
    public async Task AnalyzeRefusesAnUnknownRoutingModeNamingTheValidOnes()
    {
        var (code, printed) = await RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "vireo.dll"), "analyze", "clip.mp4", "--routing", "sideways"]);
        Assert.Equal(1, code);
        Assert.Contains("'all-compressed'", printed);
    }

    [Theory]
    [InlineData("--fps", "-1", "fps must be a number between 0 and 60")]
    [InlineData("--fps", "100", "fps must be a number between 0 and 60")]
    [InlineData("--scene", "2", "sceneThreshold must be a number greater than 0 and less than 1")]
    [InlineData("--max-frames", "0", "maxFrames must be between 1 and")]
    public async Task AnalyzeRefusesASamplingValueThePipelineWouldRefuseBeforeSubmittingIt(string option, string value, string rule)
    {
        // Submitted, such a video would be dead-lettered at the door, and the command would wait for it in vain.
        var (code, printed) = await RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "vireo.dll"), "analyze", "clip.mp4", option, value]);
        Assert.Equal(1, code);
        Assert.Contains($"{option}: {rule}", printed);
        Assert.DoesNotContain("submitted", printed);
    }

    [Fact]
    public async Task AnalyzeRefusesAFileThatIsNotAVideoNamingItBeforeSubmittingIt()
    {
        // Submitted, it would be refused by a media silo, under the name of its staged copy.
        await InAFolderWithANonVideoAsync(async (folder, notes) =>
        {
            var (code, printed) = await RunInAsync(folder, "dotnet", [Path.Combine(AppContext.BaseDirectory, "vireo.dll"), "analyze", "notes.mp4"]);
            Assert.Equal(1, code);
            Assert.Contains("NotAVideo: ", printed);
            Assert.Contains(notes, printed);
            Assert.DoesNotContain("submitted", printed);
        });
    }

    [Fact]
    public async Task TheLauncherResolvesRelativePathsFromWhereItIsCalled()
    {
        await InAFolderWithANonVideoAsync(async (folder, notes) =>
        {
            var (_, printed) = await RunInAsync(folder, "bash", [Path.Combine(Root, "vireo"), "sample", "notes.mp4"]);
            Assert.Contains(notes, printed);
            Assert.DoesNotContain(Path.Combine(Root, "notes.mp4"), printed);
        });
    }

    /// <summary>Runs <paramref name="test"/> in a folder of its own holding notes.mp4, a text file that is not a video.</summary>
    private static async Task InAFolderWithANonVideoAsync(Func<string, string, Task> test)
    {
        var folder = Directory.CreateTempSubdirectory("vireo-caller-").FullName;
        try
        {
            var notes = Path.Combine(folder, "notes.mp4");
            await File.WriteAllTextAsync(notes, "not a video");
            await test(folder, notes);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static Task<(int Code, string Output)> RunAsync(string program, string[] arguments, params (string, string)[] environment) =>
        RunInAsync(Root, program, arguments, environment);

    private static async Task<(int Code, string Output)> RunInAsync(string directory, string program, string[] arguments, params (string, string)[] environment)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        foreach (var (k, v) in environment) start.Environment[k] = v;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
