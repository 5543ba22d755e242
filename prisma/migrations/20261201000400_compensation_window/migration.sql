-- The compensation window as a fact of the order, and the database's refusal of a compensation
-- that did not happen. Mirrors the Order model's new fields in prisma/schema.prisma.
--
-- compensation_window_closes_at: set once, when the order is first CONFIRMED (the saga passes
-- the end of its window, in workflow time); never moved by a later run.
-- compensation_window_closed_at: set once, when the saga closed the window (its timer elapsed,
-- or an operator cancelled the workflow of a CONFIRMED order). A CONFIRMED order whose window has
-- closed, by either column, cannot start compensating again.
ALTER TABLE "orders" ADD COLUMN "compensation_window_closes_at" TIMESTAMPTZ(3);
ALTER TABLE "orders" ADD COLUMN "compensation_window_closed_at" TIMESTAMPTZ(3);

-- Guards every status change, whoever makes it:
--  * CONFIRMED -> COMPENSATING only while the window is open (SQLSTATE OS001);
--  * -> COMPENSATED only once nothing the order did is left in effect: no CAPTURED payment and no
--    HELD or COMMITTED reservation (SQLSTATE OS002). A run that lost track of what was done
--    (a fresh run after retention dropped the old one, a service that says it released but did not)
--    is refused here instead of marking the order undone with nothing undone.
CREATE FUNCTION "orders_guard_compensation"() RETURNS trigger LANGUAGE plpgsql AS $$
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
                   (SELECT 'payment ' || p."status" FROM "payments" p WHERE p."order_id" = NEW."id" AND p."status" = 'CAPTURED'),
                   (SELECT 'reservation ' || r."status" FROM "reservations" r
                     WHERE r."order_id" = NEW."id" AND r."status" IN ('HELD', 'COMMITTED'))
               ], NULL)
          INTO left_in_effect;
        IF cardinality(left_in_effect) > 0 THEN
            RAISE EXCEPTION 'order %: cannot be COMPENSATED while % in effect', NEW."id", array_to_string(left_in_effect, ' and ')
                USING ERRCODE = 'OS002';
        END IF;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER "orders_guard_compensation" BEFORE UPDATE OF "status" ON "orders"
    FOR EACH ROW EXECUTE FUNCTION "orders_guard_compensation"();
