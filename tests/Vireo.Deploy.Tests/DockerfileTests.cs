using System.Text.RegularExpressions;
using Vireo.Testing;

namespace Vireo.Deploy.Tests;

/// <summary>
/// The Dockerfiles of infra/docker. No Docker engine runs here, so the images are not built; instead each
/// Dockerfile's publish command is run as written with --no-build (CI has just built the solution in Release, the
/// configuration the command names), and its base images, user and entry point are checked.
/// </summary>
public sealed partial class DockerfileTests
{
    private static readonly string Folder = Path.Combine(Repository.Root, "infra", "docker");

    public static TheoryData<string> Dockerfiles => new(Directory.GetFiles(Folder, "*.Dockerfile").Select(Path.GetFileName).Order()!);

    [Fact]
    public void EveryDeployableHasADockerfile() =>
        Assert.Equal(["api.Dockerfile", "migrations.Dockerfile", "silo-cuda.Dockerfile", "silo.Dockerfile", "sink.Dockerfile"],
            Directory.GetFiles(Folder, "*.Dockerfile").Select(Path.GetFileName).Order());

    [Theory]
    [MemberData(nameof(Dockerfiles))]
    public void BaseImagesArePinnedToExactVersions(string name)
    {
        var dockerfile = Dockerfile.Read(Path.Combine(Folder, name));
        Assert.NotEmpty(dockerfile.BaseImages);
        foreach (var image in dockerfile.BaseImages)
        {
            if (dockerfile.Stages.Contains(image))
                continue;
            Assert.True(image.Contains("@sha256:") || ExactTag().IsMatch(image), $"{name}: {image} is not pinned to an exact version");
        }
    }

    [Theory]
    [MemberData(nameof(Dockerfiles))]
    public void TheImageRunsAsAnUnprivilegedUser(string name)
    {
        var dockerfile = Dockerfile.Read(Path.Combine(Folder, name));
        var user = dockerfile.FinalStageUser;
        Assert.True(user is "$APP_UID" or "1654", $"{name}: the final stage runs as '{user}'");
    }

    [SkippableTheory]
    [MemberData(nameof(Dockerfiles))]
    public void ThePublishCommandPublishesTheEntryPoint(string name)
    {
        var dockerfile = Dockerfile.Read(Path.Combine(Folder, name));
        var publish = dockerfile.Publish;
        Assert.Equal(["dotnet", "publish"], publish.Take(2));
        var project = publish[2];
        Assert.EndsWith(".csproj", project);
        var output = publish[publish.IndexOf("-o") + 1];
        Assert.Equal("/app", output);
        Assert.Equal(["dotnet", $"{Path.GetFileNameWithoutExtension(project) switch { "Vireo.Cli" => "vireo", var n => n }}.dll"], dockerfile.EntryPoint);
        Skip.If(project == "services/Vireo.Api/Vireo.Api.csproj" && !File.Exists(Path.Combine(Repository.Root, project)),
            "services/Vireo.Api is not in this checkout yet");
        Assert.True(File.Exists(Path.Combine(Repository.Root, project)), $"{name} publishes {project}, which does not exist");
        if (publish.Contains("-p:TorchBackend=cuda"))
        {
            // TorchSharp-cuda-linux cannot be restored here; TorchBackendTests checks what the switch selects.
            Assert.Equal("silo-cuda.Dockerfile", name);
            return;
        }

        var folder = Path.Combine(Path.GetTempPath(), $"vireo-publish-{Guid.NewGuid():N}");
        try
        {
            string[] arguments = [.. publish.Skip(1).Select(a => a == "/app" ? folder : a), "--no-build", "-nologo", "-v", "q"];
            var result = Tools.Run("dotnet", arguments, timeout: TimeSpan.FromMinutes(5));
            Assert.True(result.ExitCode == 0, result.All);
            var entry = Path.Combine(folder, dockerfile.EntryPoint[1]);
            Assert.True(File.Exists(entry), $"{entry} was not published");
            Assert.True(File.Exists(Path.ChangeExtension(entry, ".runtimeconfig.json")));
            if (project.Contains("Vireo.Silo"))
            {
                Assert.True(File.Exists(Path.Combine(folder, "libtorch_cpu.so")), "the silo was published without libtorch");
                Assert.True(File.Exists(Path.Combine(folder, "checkpoints", "vireo-small", "model.safetensors")));
            }
        }
        finally
        {
            if (Directory.Exists(folder))
                Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// Vireo.Media runs ffprobe and ffmpeg as child processes, found on PATH (Media:BinaryFolder is empty in every
    /// image): a process that registers it probes every video it takes in (the API each upload and URL, the silos
    /// each source), and without ffmpeg in its image every probe fails.
    /// </summary>
    [Fact]
    public void EveryImageWhoseProcessRunsFfprobeInstallsFfmpeg()
    {
        var runners = Directory.GetFiles(Folder, "*.Dockerfile").Order()
            .Select(f => (Name: Path.GetFileName(f), Dockerfile: Dockerfile.Read(f)))
            .Where(d => RunsFfprobe(d.Dockerfile))
            .ToList();
        Assert.Equal(["api.Dockerfile", "silo-cuda.Dockerfile", "silo.Dockerfile"], runners.Select(d => d.Name));
        foreach (var (name, dockerfile) in runners)
            Assert.True(dockerfile.FinalStagePackages.Contains("ffmpeg"),
                $"{name}: its process runs ffprobe, but the final stage installs only [{string.Join(", ", dockerfile.FinalStagePackages)}]");
    }

    /// <summary>
    /// Whether the process the image starts registers Vireo.Media: a service's host anywhere in its project; a CLI
    /// image (one with a CMD) runs that one command, whose class is Commands/NameCommand.cs.
    /// </summary>
    private static bool RunsFfprobe(Dockerfile dockerfile)
    {
        var folder = Path.GetDirectoryName(Path.Combine(Repository.Root, dockerfile.Publish[2]))!;
        if (!Directory.Exists(folder))
            return false;
        if (dockerfile.Command is [var command, ..])
        {
            var file = Path.Combine(folder, "Commands", $"{char.ToUpperInvariant(command[0])}{command[1..]}Command.cs");
            Assert.True(File.Exists(file), $"the image runs `{command}`, but {file} does not exist");
            return RegistersMedia(file);
        }
        return Directory.EnumerateFiles(folder, "*.cs", SearchOption.AllDirectories)
            .Where(f => Path.GetRelativePath(folder, f).Split(Path.DirectorySeparatorChar)[0] is not ("bin" or "obj"))
            .Any(RegistersMedia);

        static bool RegistersMedia(string file) => File.ReadAllText(file).Contains(".AddVireoMedia(", StringComparison.Ordinal);
    }

    [GeneratedRegex(@":[0-9]+\.[0-9]+\.[0-9]+(-[a-z0-9.-]+)?$")]
    private static partial Regex ExactTag();
}

/// <summary>
/// The parts of a Dockerfile the tests read: ARG defaults resolved into FROM lines, stages, USER, publish, ENTRYPOINT,
/// CMD, and the packages the final stage installs with apt-get.
/// </summary>
public sealed partial record Dockerfile(IReadOnlyList<string> BaseImages, IReadOnlyList<string> Stages, string? FinalStageUser, List<string> Publish,
    IReadOnlyList<string> EntryPoint, IReadOnlyList<string> Command, IReadOnlyList<string> FinalStagePackages)
{
    public static Dockerfile Read(string path)
    {
        var lines = Logical(File.ReadAllLines(path));
        var arguments = new Dictionary<string, string>();
        var images = new List<string>();
        var stages = new List<string>();
        string? user = null;
        List<string>? publish = null;
        List<string> entry = [];
        List<string> command = [];
        List<string> packages = [];
        foreach (var line in lines)
        {
            var (instruction, rest) = Split(line);
            switch (instruction)
            {
                case "ARG" when rest.Contains('='):
                    arguments[rest[..rest.IndexOf('=')]] = rest[(rest.IndexOf('=') + 1)..];
                    break;
                case "FROM":
                    var parts = rest.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    images.Add(Variable().Replace(parts[0], m => arguments.GetValueOrDefault(m.Groups[1].Value, m.Value)));
                    if (parts.Length == 3 && parts[1].Equals("AS", StringComparison.OrdinalIgnoreCase))
                        stages.Add(parts[2]);
                    user = null;
                    packages = [];
                    break;
                case "USER":
                    user = rest;
                    break;
                case "RUN" when rest.StartsWith("dotnet publish ", StringComparison.Ordinal):
                    publish = [.. rest.Split(' ', StringSplitOptions.RemoveEmptyEntries)];
                    break;
                case "RUN":
                    packages.AddRange(AptPackages(rest));
                    break;
                case "ENTRYPOINT":
                    entry = [.. Quoted().Matches(rest).Select(m => m.Groups[1].Value)];
                    break;
                case "CMD":
                    command = [.. Quoted().Matches(rest).Select(m => m.Groups[1].Value)];
                    break;
            }
        }
        return new Dockerfile(images, stages, user, publish ?? throw new InvalidOperationException($"{path} has no dotnet publish line"), entry, command, packages);
    }

    /// <summary>The package names of every `apt-get install` in a RUN line: its words up to the next shell operator, less options.</summary>
    private static IEnumerable<string> AptPackages(string run)
    {
        var words = run.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        for (var i = 0; i + 1 < words.Length; i++)
        {
            if (words[i] != "apt-get" || words[i + 1] != "install")
                continue;
            foreach (var word in words.Skip(i + 2).TakeWhile(w => w is not ("&&" or "||" or ";" or "|")))
            {
                if (!word.StartsWith('-'))
                    yield return word;
            }
        }
    }

    /// <summary>Joins continuation lines and drops comments.</summary>
    private static List<string> Logical(IEnumerable<string> physical)
    {
        var result = new List<string>();
        var current = "";
        foreach (var raw in physical)
        {
            var line = raw.Trim();
            if (line.StartsWith('#') || line.Length == 0 && current.Length == 0)
                continue;
            if (line.EndsWith('\\'))
            {
                current += line[..^1] + " ";
                continue;
            }
            result.Add(current + line);
            current = "";
        }
        return result;
    }

    private static (string Instruction, string Value) Split(string line)
    {
        var space = line.IndexOf(' ');
        return space < 0 ? (line.ToUpperInvariant(), "") : (line[..space].ToUpperInvariant(), line[(space + 1)..].Trim());
    }

    [GeneratedRegex(@"\$\{([A-Za-z_]+)\}")]
    private static partial Regex Variable();

    [GeneratedRegex("\"([^\"]*)\"")]
    private static partial Regex Quoted();
}
