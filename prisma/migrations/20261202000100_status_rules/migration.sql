-- The guard trigger's function, generated from STATUS_ALLOWS (services/orders/contract.ts) by
-- scripts/status-rules.ts; test/unit/status-rules.test.ts checks that the newest such migration
-- is what the declaration generates.
CREATE OR REPLACE FUNCTION "orders_guard_compensation"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    left_in_effect TEXT[];
BEGIN
    IF NEW."status" = 'COMPENSATING' AND OLD."status" = 'CONFIRMED'
       AND (OLD."compensation_window_closed_at" IS NOT NULL OR OLD."compensation_window_closes_at" <= now()) THEN
        RAISE EXCEPTION 'order %: its compensation window has closed', NEW."id"
            USING ERRCODE = 'OS001';
    END IF;
    IF NEW."status" = 'COMPENSATED' AND OLD."status" IS DISTINCT FROM 'COMPENSATED' THEN
        SELECT array_remove(ARRAY[
                   (SELECT 'payment ' || t."status" FROM "payments" t WHERE t."order_id" = NEW."id" AND t."status" NOT IN ('FAILED', 'REFUNDED', 'VOIDED')),
                   (SELECT 'reservation ' || t."status" FROM "reservations" t WHERE t."order_id" = NEW."id" AND t."status" NOT IN ('RELEASED', 'REJECTED'))
               ]::text[], NULL)
          INTO left_in_effect;
        IF cardinality(left_in_effect) > 0 THEN
            RAISE EXCEPTION 'order %: cannot be COMPENSATED while % in effect', NEW."id", array_to_string(left_in_effect, ' and ')
                USING ERRCODE = 'OS002';
        END IF;
    END IF;
    RETURN NEW;
END $$;
