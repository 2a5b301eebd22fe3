-- 0008: reference data: the 13 user groups (fixed ids, referred to by id in
-- code), torrent categories, the lobby and staff chat rooms, default bonus
-- rules. Idempotent (ON CONFLICT DO NOTHING).

INSERT INTO user_groups
    (id, slug, name, level, is_staff,
     can_download, can_upload, can_upload_unmoderated, can_moderate, can_administer,
     can_invite, can_chat, can_post_forums, can_request, is_immune_hnr,
     min_ratio, max_download_slots,
     promote_min_uploaded, promote_min_ratio, promote_min_age, promote_min_uploads,
     color, description)
VALUES
    ( 1, 'banned',         'Banned',          0, false,  false, false, false, false, false,  false, false, false, false, false,  0.000, NULL,  NULL, NULL, NULL, NULL, '#6c757d', 'No access.'),
    ( 2, 'validating',     'Validating',      5, false,  false, false, false, false, false,  false, false, false, false, false,  0.000, NULL,  NULL, NULL, NULL, NULL, '#adb5bd', 'Account awaiting email validation: read only.'),
    ( 3, 'leech',          'Leech',          10, false,  false, true,  false, false, false,  false, true,  true,  false, false,  0.000, NULL,  NULL, NULL, NULL, NULL, '#dc3545', 'Ratio below the minimum: downloading disabled until it recovers.'),
    ( 4, 'member',         'Member',         20, false,  true,  true,  false, false, false,  false, true,  true,  true,  false,  0.400,   20,  NULL, NULL, NULL, NULL, '#212529', 'Default class.'),
    ( 5, 'power_user',     'Power User',     30, false,  true,  true,  false, false, false,  true,  true,  true,  true,  false,  0.500, NULL,  26843545600, 1.050, interval '14 days',  0, '#0d6efd', 'Uploaded 25 GiB, ratio 1.05, 2 weeks membership.'),
    ( 6, 'elite',          'Elite',          40, false,  true,  true,  false, false, false,  true,  true,  true,  true,  false,  0.600, NULL, 107374182400, 1.050, interval '28 days', 10, '#6f42c1', 'Uploaded 100 GiB, ratio 1.05, 4 weeks, 10 uploads.'),
    ( 7, 'torrent_master', 'Torrent Master', 50, false,  true,  true,  false, false, false,  true,  true,  true,  true,  false,  0.700, NULL, 536870912000, 1.050, interval '56 days', 50, '#fd7e14', 'Uploaded 500 GiB, ratio 1.05, 8 weeks, 50 uploads.'),
    ( 8, 'vip',            'VIP',            60, false,  true,  true,  false, false, false,  true,  true,  true,  true,  true,   0.000, NULL,  NULL, NULL, NULL, NULL, '#d4a017', 'Trusted member; ratio and hit-and-run immune.'),
    ( 9, 'uploader',       'Uploader',       70, false,  true,  true,  true,  false, false,  true,  true,  true,  true,  true,   0.000, NULL,  NULL, NULL, NULL, NULL, '#198754', 'Uploads go live without review.'),
    (10, 'internal',       'Internal',       80, false,  true,  true,  true,  false, false,  true,  true,  true,  true,  true,   0.000, NULL,  NULL, NULL, NULL, NULL, '#20c997', 'Internal release group.'),
    (11, 'moderator',      'Moderator',     100, true,   true,  true,  true,  true,  false,  true,  true,  true,  true,  true,   0.000, NULL,  NULL, NULL, NULL, NULL, '#0dcaf0', 'Staff: works the moderation queue.'),
    (12, 'administrator',  'Administrator', 200, true,   true,  true,  true,  true,  true,   true,  true,  true,  true,  true,   0.000, NULL,  NULL, NULL, NULL, NULL, '#e83e8c', 'Staff: site administration.'),
    (13, 'sysop',          'Sysop',         300, true,   true,  true,  true,  true,  true,   true,  true,  true,  true,  true,   0.000, NULL,  NULL, NULL, NULL, NULL, '#b02a37', 'Staff: full control.')
ON CONFLICT (id) DO NOTHING;

-- torrent categories: top level, then a few children
INSERT INTO torrent_categories (slug, name, position, icon, description) VALUES
    ('movies',   'Movies',   10, 'film',     'Feature films'),
    ('tv',       'TV',       20, 'tv',       'Television series and episodes'),
    ('music',    'Music',    30, 'music',    'Albums, singles and live recordings'),
    ('games',    'Games',    40, 'gamepad',  'PC and console games'),
    ('software', 'Software', 50, 'cpu',      'Applications and operating systems'),
    ('books',    'Books',    60, 'book',     'E-books, comics and audiobooks'),
    ('other',    'Other',    90, 'box',      'Everything else')
ON CONFLICT (slug) DO NOTHING;

INSERT INTO torrent_categories (parent_id, slug, name, position, icon)
SELECT p.id, c.slug, c.name, c.position, c.icon
  FROM (VALUES
        ('movies', 'movies-hd',      'Movies HD',   11, 'film'),
        ('movies', 'movies-uhd',     'Movies UHD',  12, 'film'),
        ('tv',     'tv-episodes',    'TV Episodes', 21, 'tv'),
        ('tv',     'tv-seasons',     'TV Seasons',  22, 'tv'),
        ('music',  'music-lossless', 'Lossless',    31, 'music'),
        ('music',  'music-lossy',    'Lossy',       32, 'music'),
        ('books',  'audiobooks',     'Audiobooks',  61, 'headphones')
       ) AS c (parent_slug, slug, name, position, icon)
  JOIN torrent_categories p ON p.slug = c.parent_slug
ON CONFLICT (slug) DO NOTHING;

-- chat rooms
INSERT INTO chat_rooms (slug, name, description, min_group_level, staff_only, position) VALUES
    ('lobby', 'Lobby', 'General chat for all members.', 0,   false, 0),
    ('staff', 'Staff', 'Staff only.',                   100, true,  1)
ON CONFLICT (slug) DO NOTHING;

-- default bonus rules (seeding amounts are per seeding torrent per hour)
INSERT INTO bonus_rules (slug, name, description, rule_type, amount, multiplier, conditions, priority) VALUES
    ('seeding_base',        'Seeding',               'Points per hour for each torrent seeded.',
        'seeding', 1.00, 1, '{"per": "hour"}', 0),
    ('seeding_long_term',   'Long-term seeding',     'Extra per hour for torrents seeded 30 days or more.',
        'seeding', 0.50, 1, '{"per": "hour", "min_seed_time_seconds": 2592000}', 10),
    ('seeding_large',       'Large torrent',         'Extra per hour for torrents of 10 GiB or more.',
        'seeding', 0.50, 1, '{"per": "hour", "min_size_bytes": 10737418240}', 20),
    ('seeding_low_seeders', 'Keeping it alive',      'Extra per hour for torrents with 5 seeders or fewer.',
        'seeding', 1.00, 1, '{"per": "hour", "max_seeders": 5}', 30),
    ('upload_approved',     'Upload approved',       'One-off reward when an upload is approved.',
        'upload', 25.00, 1, '{}', 0),
    ('request_fill',        'Request filled',        'The request''s bounty is paid to the filler.',
        'request_fill', 0.00, 1, '{"pays": "total_bounty"}', 0)
ON CONFLICT (slug) DO NOTHING;
