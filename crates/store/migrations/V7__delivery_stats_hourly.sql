-- Hourly delivery statistics per webhook, written with each batch of attempts, so that a
-- webhook's stats read at most 168 rows however many attempts it had. Durations are kept as a
-- histogram over fixed bounds (milliseconds): bucket 0 is below 1 ms, bucket i below bound i,
-- the last one 10 s and more.
CREATE FUNCTION herald_duration_histogram(durations int[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT array_agg(coalesce(h.n, 0) ORDER BY b.i)
    FROM generate_series(0, 24) AS b(i)
    LEFT JOIN (
        SELECT width_bucket(d, ARRAY[1,2,3,5,7,10,15,20,30,50,70,100,150,200,300,500,700,1000,
                                     1500,2000,3000,5000,7000,10000]) AS i,
               count(*) AS n
        FROM unnest(durations) AS d
        GROUP BY 1
    ) AS h ON h.i = b.i
$$;

CREATE FUNCTION herald_add_histograms(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT array_agg(coalesce(x, 0) + coalesce(y, 0) ORDER BY i)
    FROM unnest(a, b) WITH ORDINALITY AS t(x, y, i)
$$;

CREATE TABLE delivery_stats_hourly (
    webhook_id  text COLLATE "C" NOT NULL,
    hour        timestamptz NOT NULL,
    delivered   bigint NOT NULL,
    will_retry  bigint NOT NULL,
    failed      bigint NOT NULL,
    durations   bigint[] NOT NULL,
    PRIMARY KEY (webhook_id, hour)
);

-- What the attempt log already holds for the window stats can show.
INSERT INTO delivery_stats_hourly (webhook_id, hour, delivered, will_retry, failed, durations)
SELECT webhook_id, date_trunc('hour', attempted_at),
       count(*) FILTER (WHERE result = 'delivered'),
       count(*) FILTER (WHERE result = 'will-retry'),
       count(*) FILTER (WHERE result = 'failed'),
       herald_duration_histogram(array_agg(duration_ms))
FROM delivery_attempts
WHERE NOT test AND attempted_at >= now() - interval '8 days'
GROUP BY 1, 2;
