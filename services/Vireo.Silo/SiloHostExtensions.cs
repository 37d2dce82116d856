using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Dashboard;
using Orleans.Runtime.MembershipService.SiloMetadata;
using StackExchange.Redis;
using Vireo.Grains;
using Vireo.Grains.Ingest;
using Vireo.ServiceDefaults;
using Vireo.Silo.Ingest;
using Vireo.Grains.Placement;
using Vireo.Grains.Videos;
using Vireo.Grains.Thumbnails;
using Vireo.Grains.Workers;
using Vireo.Blobs;
using Vireo.Media;
using Vireo.Messaging;

namespace Vireo.Silo;

public static class SiloHostExtensions
{
    /// <summary>An Orleans silo with Redis membership, state and reminders, and the services of its configured roles.</summary>
    public static IHostApplicationBuilder AddVireoSilo(this IHostApplicationBuilder builder)
    {
        var silo = builder.BindValidated<SiloOptions>(SiloOptions.Section);
        var redis = builder.Configuration["ConnectionStrings:Redis"]
            ?? throw new InvalidOperationException("ConnectionStrings:Redis is not set; on the local stack, source .state/stack.env.");
        var roles = silo.RoleList;
        var dashboard = builder.BindValidated<DashboardOptions>(DashboardOptions.Section);

        builder.UseOrleans(orleans =>
        {
            orleans.Configure<ClusterOptions>(o => { o.ClusterId = silo.ClusterId; o.ServiceId = silo.ServiceId; });
            orleans.Configure<Orleans.Configuration.SiloOptions>(o => o.SiloName = silo.Name);
            orleans.ConfigureEndpoints(IPAddress.Parse(silo.AdvertisedAddress), Port(silo.SiloPort), Port(silo.GatewayPort), listenOnAnyHostAddress: false);
            orleans.UseRedisClustering(o => o.ConfigurationOptions = ConfigurationOptions.Parse(redis));
            orleans.AddRedisGrainStorage(VideoGrain.StorageName, o => o.ConfigurationOptions = ConfigurationOptions.Parse(redis));
            orleans.Services.AddVireoGrainStateJson();
            orleans.UseRedisReminderService(o => o.ConfigurationOptions = ConfigurationOptions.Parse(redis));
            orleans.UseSiloMetadata(new Dictionary<string, string> { [SiloRoles.MetadataKey] = string.Join(',', roles) });
            orleans.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromSeconds(1));
            // A call that times out is cancelled on the silo that runs it too: a model worker then drops the frame
            // from its queue instead of computing it for a caller that has given up (and may be retrying it).
            orleans.Configure<SiloMessagingOptions>(o => (o.ResponseTimeout, o.CancelRequestOnTimeout) = (TimeSpan.FromMinutes(5), true));
            // Carries the caller's trace context into grain calls, so one video's spans on other silos join its trace.
            orleans.AddActivityPropagation();
            if (dashboard.Enabled)
                orleans.AddDashboard();
            // Membership stays in Redis: Kubernetes hosting adds pod lifecycle on top of it, not a membership table.
            if (silo.KubernetesHosting)
                orleans.UseKubernetesHosting();
            if (!string.IsNullOrEmpty(silo.TlsCertificateFile))
                orleans.UseVireoTls(silo);
            if (silo.FastFailureDetection)
            {
                orleans.Configure<ClusterMembershipOptions>(o =>
                {
                    o.ProbeTimeout = TimeSpan.FromSeconds(2);
                    o.NumMissedProbesLimit = 2;
                    o.NumVotesForDeathDeclaration = 1;
                    o.TableRefreshTimeout = TimeSpan.FromSeconds(5);
                    o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(10);
                });
            }
        });

        var services = builder.Services;
        services.AddSingleton(silo);
        services.AddHostedService<ReadyAnnouncer>();
        services.AddSiloReadiness(roles);
        services.AddVireoPlacement();
        services.AddOptions<PipelineOptions>().BindConfiguration(PipelineOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<WorkerOptions>().BindConfiguration(WorkerOptions.Section).ValidateDataAnnotations().ValidateOnStart();

        if (roles.Contains(SiloRoles.Media))
        {
            services.AddVireoMessaging().AddVireoMedia();
            services.AddSingleton<IValidateOptions<PipelineOptions>, FramesWithinDecoderLimit>();
            services.AddSourceResolver();
            services.AddVireoBlobs().AddSingleton<ThumbnailWriter>();
            services.AddOptions<IngestOptions>().BindConfiguration(IngestOptions.Section).ValidateDataAnnotations().ValidateOnStart();
            services.AddHostedService<IngestConsumer>();
        }
        if (roles.Contains(SiloRoles.Vision))
            services.AddVisionEngine().AddSingleton<VisionBatcher>();
        if (roles.Contains(SiloRoles.Language))
            services.AddLanguageEngine().AddSingleton<LanguageBatcher>();
        return builder;
    }

    /// <summary>
    /// The configured port, or a free one below the kernel's ephemeral range. Outgoing connections (to Redis, Kafka,
    /// Postgres) take their local ports from that range, so a free port found inside it can be taken again before the
    /// silo binds it; below it only listeners take ports.
    /// </summary>
    private static int Port(int configured)
    {
        if (configured != 0)
            return configured;
        var ephemeralStart = EphemeralRangeStart();
        for (var attempt = 0; attempt < 200 && ephemeralStart > 12_000; attempt++)
        {
            var port = Random.Shared.Next(10_000, ephemeralStart);
            try
            {
                using var probe = new TcpListener(IPAddress.Loopback, port);
                probe.Start();
                return port;
            }
            catch (SocketException)
            {
            }
        }
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static int EphemeralRangeStart()
    {
        const string range = "/proc/sys/net/ipv4/ip_local_port_range";
        try
        {
            return File.Exists(range) && int.TryParse(File.ReadAllText(range).Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[0], out var start)
                ? start : 32_768;
        }
        catch (IOException)
        {
            return 32_768;
        }
    }
}
